"""`python -m model_export dataset`: write the digit-scene dataset in COCO format."""

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from model_export.dataset.coco import DIGIT_CATEGORIES, scene_annotations
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


def write_split(out: Path, split: str, count: int, seed: int) -> Path:
    """Write `count` scenes to out/split/ and their annotations to out/instances_split.json."""
    (out / split).mkdir(parents=True, exist_ok=True)
    images: list[dict] = []
    annotations: list[dict] = []
    progress = Progress(f"dataset {split}", count)
    for image_id, scene in enumerate(split_scenes(split, count, seed), start=1):
        name = f"{split}/{image_id:05d}.png"
        Image.fromarray(scene.image).save(out / name, compress_level=1)
        height, width = scene.image.shape[:2]
        images.append({"id": image_id, "file_name": name, "width": width, "height": height})
        annotations += scene_annotations(scene, image_id, len(annotations) + 1)
        progress.step()
    path = out / f"instances_{split}.json"
    coco = {"images": images, "annotations": annotations, "categories": DIGIT_CATEGORIES}
    path.write_text(json.dumps(coco))
    return path


def build_dataset(out: Path, train_images: int, test_images: int, seed: int) -> None:
    write_split(out, "train", train_images, seed)
    write_split(out, "test", test_images, seed)
