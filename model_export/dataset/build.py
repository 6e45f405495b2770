"""`python -m model_export dataset`: write the digit-scene dataset in COCO format."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from model_export.dataset.coco import DIGIT_CATEGORIES, scene_annotations, write_split
from model_export.dataset.digits import TEST_FRACTION, split_digits
from model_export.dataset.scenes import Scene, compose_scene
from model_export.progress import Progress


def split_scenes(split: str, count: int, seed: int) -> Iterator[Scene]:
    """The scenes of one split of the dataset built with `seed`, in file order.

    Train and test digits come from disjoint UCI samples; training digits are also slightly
    rotated and sheared, so no glyph repeats exactly.
    """
    train_pool, test_pool = split_digits(TEST_FRACTION, seed)
    pool, offset, distort = (train_pool, 1, True) if split == "train" else (test_pool, 2, False)
    rng = np.random.default_rng(seed + offset)
    for _ in range(count):
        yield compose_scene(rng, pool, distort=distort)


def write_digit_split(out: Path, split: str, count: int, seed: int) -> Path:
    """Write `count` scenes to out/split/ and their annotations to out/instances_split.json."""
    scenes = split_scenes(split, count, seed)
    progress = Progress(f"dataset {split}", count)

    def render(image_id: int, first_id: int) -> tuple[np.ndarray, list[dict]]:
        scene = next(scenes)
        progress.step()
        return scene.image, scene_annotations(scene, image_id, first_id)

    return write_split(out, split, count, render, DIGIT_CATEGORIES)


def build_dataset(out: Path, train_images: int, test_images: int, seed: int) -> None:
    write_digit_split(out, "train", train_images, seed)
    write_digit_split(out, "test", test_images, seed)
