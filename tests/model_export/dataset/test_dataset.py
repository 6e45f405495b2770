import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask

from model_export.dataset.build import build_dataset
from model_export.dataset.coco import load_coco
from model_export.dataset.digits import split_digits
from model_export.dataset.scenes import compose_scene


def test_split_is_disjoint_and_stratified() -> None:
    train, test = split_digits(test_fraction=0.25, seed=0)
    assert len(train.labels) + len(test.labels) == 1797
    assert sorted(set(test.labels)) == list(range(10))
    for label in range(10):
        share = np.mean(test.labels == label) / np.mean(train.labels == label)
        assert 0.8 < share < 1.2
    train_glyphs = {g.tobytes() for g in train.glyphs}
    leaked = sum(g.tobytes() in train_glyphs for g in test.glyphs)
    assert leaked == 0


@pytest.mark.parametrize("seed", range(5))
def test_scene_sizes_digits_and_boxes(seed: int) -> None:
    _, pool = split_digits(0.25, 0)
    scene = compose_scene(np.random.default_rng(seed), pool)
    height, width = scene.image.shape[:2]
    assert 128 <= height <= 1024 and 128 <= width <= 1024
    assert scene.image.dtype == np.uint8 and scene.digits
    boxes = [d.box for d in scene.digits]
    for digit in scene.digits:
        x1, y1, x2, y2 = digit.box
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
        assert y2 - y1 <= 96
        ys, xs = np.nonzero(digit.mask)
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == digit.box
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def test_written_dataset_is_valid_coco(tmp_path: Path) -> None:
    build_dataset(tmp_path, train_images=3, test_images=2, seed=0)
    data = json.loads((tmp_path / "instances_train.json").read_text())
    assert [c["name"] for c in data["categories"]] == [str(d) for d in range(10)]
    assert len(data["images"]) == 3
    for info in data["images"]:
        with Image.open(tmp_path / info["file_name"]) as image:
            assert image.size == (info["width"], info["height"])
    for a in data["annotations"]:
        rle = {**a["segmentation"], "counts": a["segmentation"]["counts"].encode()}
        assert int(coco_mask.area(rle)) == a["area"]
        x, y, w, h = a["bbox"]
        assert list(coco_mask.toBbox(rle)) == [x, y, w, h]
    dataset = load_coco(tmp_path / "instances_test.json", tmp_path)
    assert dataset.categories == [str(d) for d in range(10)]
    first = dataset.images[0].objects[0]
    assert first.box[2] > first.box[0] and first.segmentation is not None
