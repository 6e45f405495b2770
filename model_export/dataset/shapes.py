"""A tiny non-digit COCO dataset: coloured circles, squares and triangles with polygon masks.

It exists to prove that `train`, `export` and the service work on any COCO instances file:
category ids are not contiguous and segmentations are polygons, as in most real COCO files.
"""

import math
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as coco_mask

from model_export.dataset.coco import write_split

SHAPE_CATEGORIES: list[dict[str, Any]] = [
    {"id": 3, "name": "circle", "supercategory": "shape"},
    {"id": 5, "name": "square", "supercategory": "shape"},
    {"id": 9, "name": "triangle", "supercategory": "shape"},
]
CORNERS = {"circle": 24, "square": 4, "triangle": 3}
SIDE = 96  # images are SIDE x SIDE, cut in a 2 x 2 grid of cells with at most one shape each


def shape_polygon(rng: np.random.Generator, name: str, cx: float, cy: float) -> list[float]:
    """Flat [x0, y0, x1, y1, ...] corners of a randomly sized and turned regular polygon."""
    radius = rng.uniform(10, 18)
    turn = rng.uniform(0, 2 * math.pi)
    count = CORNERS[name]
    angles = turn + 2 * math.pi * np.arange(count) / count
    return [
        round(v, 2) for a in angles for v in (cx + radius * math.cos(a), cy + radius * math.sin(a))
    ]


def shapes_image(rng: np.random.Generator, image_id: int, first_id: int) -> tuple:
    """One RGB image and its COCO annotations (1 to 4 shapes on a flat background)."""
    background = rng.integers(0, 256, 3)
    image = np.empty((SIDE, SIDE, 3), np.uint8)
    image[:] = background
    cells = rng.permutation(4)[: rng.integers(1, 5)]
    annotations = []
    for offset, cell in enumerate(cells):
        category = SHAPE_CATEGORIES[rng.integers(len(SHAPE_CATEGORIES))]
        cy, cx = (np.array(divmod(int(cell), 2)) + 0.5) * SIDE / 2
        polygon = shape_polygon(rng, category["name"], cx, cy)
        # Painted through pycocotools' own rasterisation, so pixels and annToMask agree exactly.
        mask = coco_mask.decode(coco_mask.frPyObjects([polygon], SIDE, SIDE))[:, :, 0]
        image[mask.astype(bool)] = (background + rng.integers(80, 176, 3)) % 256
        xs, ys = polygon[0::2], polygon[1::2]
        x1, y1 = min(xs), min(ys)
        annotations.append(
            {
                "id": first_id + offset,
                "image_id": image_id,
                "category_id": category["id"],
                "bbox": [x1, y1, max(xs) - x1, max(ys) - y1],
                "area": 0.0,  # unused by the loader; pycocotools computes areas itself
                "iscrowd": 0,
                "segmentation": [polygon],
            }
        )
    return image, annotations


def write_shapes_split(out: Path, split: str, count: int, seed: int) -> Path:
    """Write `count` images to out/split/ and their annotations to out/instances_split.json."""
    rng = np.random.default_rng([seed, len(split)])
    return write_split(
        out, split, count, lambda i, first: shapes_image(rng, i, first), SHAPE_CATEGORIES
    )


def build_shapes_dataset(out: Path, train_images: int, test_images: int, seed: int) -> None:
    write_shapes_split(out, "train", train_images, seed)
    write_shapes_split(out, "test", test_images, seed)
