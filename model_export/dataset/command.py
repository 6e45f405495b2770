"""`python -m model_export dataset`: write the digit scenes (or the shapes) as a COCO dataset."""

import argparse
from pathlib import Path

from model_export.dataset.build import build_dataset
from model_export.dataset.shapes import build_shapes_dataset

BUILDERS = {"digits": build_dataset, "shapes": build_shapes_dataset}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kind",
        choices=sorted(BUILDERS),
        default="digits",
        help="digits: the shipped model's scenes; shapes: tiny circles, squares and triangles",
    )
    parser.add_argument("--out", type=Path, default=Path("data/digits"))
    parser.add_argument("--train-images", type=int, default=1500)
    parser.add_argument("--test-images", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> None:
    BUILDERS[args.kind](args.out, args.train_images, args.test_images, args.seed)
