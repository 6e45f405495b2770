"""`python -m model_export dataset`: write the digit scenes as a COCO dataset."""

import argparse
from pathlib import Path

from model_export.dataset.build import build_dataset


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("data/digits"))
    parser.add_argument("--train-images", type=int, default=1500)
    parser.add_argument("--test-images", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> None:
    build_dataset(args.out, args.train_images, args.test_images, args.seed)
