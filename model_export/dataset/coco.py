"""Reading and writing COCO-format instance annotations."""

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO

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


# (image id, first annotation id) -> the image's pixels and its COCO annotations
RenderImage = Callable[[int, int], tuple[np.ndarray, list[dict]]]


def write_split(
    out: Path, split: str, count: int, render: RenderImage, categories: list[dict]
) -> Path:
    """Write `count` rendered images to out/split/ and out/instances_split.json."""
    (out / split).mkdir(parents=True, exist_ok=True)
    images: list[dict] = []
    annotations: list[dict] = []
    for image_id in range(1, count + 1):
        pixels, objects = render(image_id, len(annotations) + 1)
        name = f"{split}/{image_id:05d}.png"
        Image.fromarray(pixels).save(out / name, compress_level=1)
        height, width = pixels.shape[:2]
        images.append({"id": image_id, "file_name": name, "width": width, "height": height})
        annotations += objects
    path = out / f"instances_{split}.json"
    coco = {"images": images, "annotations": annotations, "categories": categories}
    path.write_text(json.dumps(coco))
    return path


DIGIT_CATEGORIES = [{"id": d + 1, "name": str(d), "supercategory": "digit"} for d in range(10)]


@dataclass(frozen=True)
class CocoObject:
    category: int  # index into CocoDataset.categories
    box: tuple[float, float, float, float]  # x1, y1, x2, y2, exclusive ends
    segmentation: dict | None  # compressed RLE, counts as str; None when the file has none


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
    """Any COCO instances file: boxes, and masks from polygons or RLE where present."""
    data = json.loads(annotations.read_text())
    categories = sorted(data["categories"], key=lambda c: c["id"])
    index = {c["id"]: i for i, c in enumerate(categories)}
    coco = COCO()  # pycocotools' own polygon / RLE decoding (annToRLE) needs only the images
    coco.imgs = {i["id"]: i for i in data["images"]}
    objects: dict[int, list[CocoObject]] = {}
    unmasked = 0
    for a in data["annotations"]:
        if a.get("iscrowd", 0):
            continue
        x, y, w, h = a["bbox"]
        segmentation = _compressed_rle(coco, a)
        unmasked += segmentation is None
        objects.setdefault(a["image_id"], []).append(
            CocoObject(index[a["category_id"]], (x, y, x + w, y + h), segmentation)
        )
    if unmasked:
        print(f"{annotations}: {unmasked} objects without a segmentation", file=sys.stderr)
    images = [
        CocoImage(image_dir / i["file_name"], i["width"], i["height"], objects.get(i["id"], []))
        for i in data["images"]
    ]
    return CocoDataset([c["name"] for c in categories], images)


def _compressed_rle(coco: COCO, annotation: dict) -> dict | None:
    """The annotation's polygons, uncompressed or compressed RLE as one compressed RLE."""
    if not annotation.get("segmentation"):
        return None
    rle = coco.annToRLE(annotation)
    counts = rle["counts"]
    return {
        "size": list(rle["size"]),
        "counts": counts if isinstance(counts, str) else counts.decode(),
    }
