import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from model_export.dataset import command
from model_export.dataset.coco import load_coco
from model_export.training.samples import object_masks


def test_dataset_command_writes_shapes_with_polygon_masks(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    words = ["--kind", "shapes", "--out", str(tmp_path), "--train-images", "4"]
    command.run(parser.parse_args([*words, "--test-images", "2"]))
    raw = json.loads((tmp_path / "instances_train.json").read_text())
    assert {c["id"]: c["name"] for c in raw["categories"]} == {
        3: "circle",
        5: "square",
        9: "triangle",
    }
    assert all(isinstance(a["segmentation"], list) for a in raw["annotations"])
    dataset = load_coco(tmp_path / "instances_train.json", tmp_path)
    assert dataset.categories == ["circle", "square", "triangle"] and len(dataset.images) == 4
    for image in dataset.images:
        with Image.open(image.path) as file:
            pixels = np.asarray(file.convert("RGB")).astype(int)
        background = pixels[~object_masks(image).any(axis=0)]
        assert (background == background[0]).all()  # one flat colour around the shapes
        for obj, mask in zip(image.objects, object_masks(image), strict=True):
            x1, y1, x2, y2 = obj.box
            ys, xs = np.nonzero(mask)
            assert mask.sum() > 100  # radius >= 10: at least the inscribed square
            assert x1 - 1 <= xs.min() and xs.max() <= x2 and y1 - 1 <= ys.min() and ys.max() <= y2
            inside = pixels[mask]
            assert (np.abs(inside - background[0]).sum(axis=1) > 0).mean() > 0.9
