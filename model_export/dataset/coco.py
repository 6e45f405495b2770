"""Reading and writing COCO-format instance annotations."""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pycocotools import mask as coco_mask

from model_export.dataset.scenes import Scene


def encode_mask(mask: np.ndarray) -> dict:
    """COCO run-length encoding of a (H, W) bool mask, JSON-ready."""
    rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": list(rle["size"]), "counts": rle["counts"].decode("ascii")}


def scene_annotations(scene: Scene, image_id: int, first_id: int) -> list[dict]:
    annotations = []
    for offset, digit in enumerate(scene.digits):
        x1, y1, x2, y2 = digit.box
        annotations.append(
            {
                "id": first_id + offset,
                "image_id": image_id,
                "category_id": digit.label + 1,
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "area": int(digit.mask.sum()),
                "iscrowd": 0,
                "segmentation": encode_mask(digit.mask),
            }
        )
    return annotations


DIGIT_CATEGORIES = [{"id": d + 1, "name": str(d), "supercategory": "digit"} for d in range(10)]


@dataclass(frozen=True)
class CocoObject:
    category: int  # index into CocoDataset.categories
    box: tuple[float, float, float, float]  # x1, y1, x2, y2, exclusive ends
    segmentation: dict | None


@dataclass(frozen=True)
class CocoImage:
    path: Path
    width: int
    height: int
    objects: list[CocoObject]


@dataclass(frozen=True)
class CocoDataset:
    categories: list[str]  # names, ordered by category id
    images: list[CocoImage]


def load_coco(annotations: Path, image_dir: Path) -> CocoDataset:
    """Any COCO instances file: boxes, and segmentations where present."""
    data = json.loads(annotations.read_text())
    categories = sorted(data["categories"], key=lambda c: c["id"])
    index = {c["id"]: i for i, c in enumerate(categories)}
    objects: dict[int, list[CocoObject]] = {}
    for a in data["annotations"]:
        if a.get("iscrowd", 0):
            continue
        x, y, w, h = a["bbox"]
        segmentation = a.get("segmentation") if isinstance(a.get("segmentation"), dict) else None
        objects.setdefault(a["image_id"], []).append(
            CocoObject(index[a["category_id"]], (x, y, x + w, y + h), segmentation)
        )
    images = [
        CocoImage(image_dir / i["file_name"], i["width"], i["height"], objects.get(i["id"], []))
        for i in data["images"]
    ]
    return CocoDataset([c["name"] for c in categories], images)
