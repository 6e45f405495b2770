"""Training samples: fixed-size crops around objects, kept with their instance and superpixel
maps so that every epoch can draw new geometry and new rois from them (see `augment`).

Class ids: 0 is the background, category i of the dataset is class i + 1.
"""

import math
import os
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from PIL import Image
from pycocotools import mask as coco_mask

from model_export.dataset.coco import CocoImage
from model_export.model import PAD_VALUE
from model_export.progress import Progress
from model_export.training.boxes import box_iou
from model_export.training.superpixels import majority_labels, superpixels

CROP = 128
ROIS_PER_CROP = 16
MAX_POSITIVES = 8
VIEWS_PER_OBJECT = 4  # the object's box, a square cell and jittered copies (positive_views)
MAX_SUPERPIXELS = 160
MAX_OBJECTS = 64


@dataclass(frozen=True)
class Samples:
    images: np.ndarray  # (N, CROP, CROP, 3) uint8
    instances: np.ndarray  # (N, CROP, CROP) uint8: 0 = no object, k = object k - 1 of the crop
    classes: np.ndarray  # (N, MAX_OBJECTS) int32: class of object k, 0 where absent
    superpixels: np.ndarray  # (N, CROP, CROP) int16 ids, -1 = ignore
    superpixel_labels: np.ndarray  # (N, MAX_SUPERPIXELS) int32, -1 where absent


def load_rgb(image: CocoImage) -> np.ndarray:
    with Image.open(image.path) as file:
        return np.asarray(file.convert("RGB"))


def object_masks(image: CocoImage) -> np.ndarray:
    """(N, H, W) bool: decoded segmentations (polygons and RLE, see load_coco); only an
    object whose annotation has no segmentation at all covers its box."""
    masks = np.zeros((len(image.objects), image.height, image.width), bool)
    for mask, obj in zip(masks, image.objects, strict=True):
        if obj.segmentation is not None:
            rle = {**obj.segmentation, "counts": obj.segmentation["counts"].encode("ascii")}
            mask[:] = coco_mask.decode(rle).astype(bool)
        else:
            x1, y1, x2, y2 = (round(v) for v in obj.box)
            mask[y1:y2, x1:x2] = True
    return masks


MIN_POSITIVE_IOU = 0.4  # views this close to the tight box still name the object


def jitter(
    rng: np.random.Generator, box: np.ndarray, min_iou: float = 0.7, spread: float = 0.1
) -> np.ndarray:
    """A random box around `box`, each side moved by up to `spread` of the box's size, with
    IoU at least min_iou (the box itself after 20 tries)."""
    size = np.tile(box[2:] - box[:2], 2)
    for _ in range(20):
        candidate = box + rng.uniform(-spread, spread, 4) * size
        if box_iou(candidate[None], box[None])[0, 0] >= min_iou:
            return candidate
    return box


def square_cell(rng: np.random.Generator, box: np.ndarray) -> np.ndarray:
    """A square around `box`, as people and other detectors draw cells around an object:
    side up to 1.3 times the box's longer side, centre moved a little (IoU >= MIN_POSITIVE_IOU,
    else a jittered box)."""
    side = float((box[2:] - box[:2]).max()) * rng.uniform(1.0, 1.3)
    centre = (box[:2] + box[2:]) / 2 + rng.uniform(-0.08, 0.08, 2) * side
    cell = np.concatenate([centre - side / 2, centre + side / 2])
    if box_iou(cell[None], box[None])[0, 0] >= MIN_POSITIVE_IOU:
        return cell
    return jitter(rng, box, MIN_POSITIVE_IOU, 0.3)


def positive_views(rng: np.random.Generator, box: np.ndarray) -> list[np.ndarray]:
    """VIEWS_PER_OBJECT boxes labelled with the object: the box itself, a square cell, a
    close and a loose jitter (IoU down to MIN_POSITIVE_IOU)."""
    return [box, square_cell(rng, box), jitter(rng, box), jitter(rng, box, MIN_POSITIVE_IOU, 0.3)]


def background_boxes(rng: np.random.Generator, objects: np.ndarray, count: int) -> np.ndarray:
    """`count` boxes inside the crop with IoU < 0.3 against every object box."""
    found: list[np.ndarray] = []
    while len(found) < count:
        height = rng.uniform(12, 100, 64)
        width = height * rng.uniform(0.5, 1.2, 64)
        x1, y1 = rng.uniform(0, CROP - width), rng.uniform(0, CROP - height)
        candidates = np.stack([x1, y1, x1 + width, y1 + height], axis=1)
        if len(objects):
            candidates = candidates[box_iou(candidates, objects).max(axis=1) < 0.3]
        found.extend(candidates[: count - len(found)])
    return np.asarray(found, np.float32).reshape(count, 4)


def crop_rois(
    rng: np.random.Generator, boxes: np.ndarray, classes: np.ndarray, whole: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rois and labels for one crop given its object boxes (crop coordinates).

    Objects cut by the crop's edge (`whole` False) are neither positives nor backgrounds.
    """
    positives: list[np.ndarray] = []
    classes_of_positives: list[int] = []
    for box, cls in zip(boxes[whole], classes[whole], strict=True):
        views = positive_views(rng, box)
        positives += views
        classes_of_positives += [int(cls)] * len(views)
    positives = positives[:MAX_POSITIVES]
    negatives = background_boxes(rng, boxes, ROIS_PER_CROP - len(positives))
    rois = np.concatenate([np.asarray(positives, np.float32).reshape(-1, 4), negatives])
    labels = classes_of_positives[:MAX_POSITIVES] + [0] * len(negatives)
    return np.clip(rois, 0, CROP), np.asarray(labels, np.int32)


def image_samples(rng: np.random.Generator, image: CocoImage, pool: Executor) -> list[tuple]:
    """One crop per object of `image`, with the object inside it; SLIC runs on `pool`."""
    pixels = load_rgb(image)
    masks = object_masks(image)[:MAX_OBJECTS]
    height, width = max(image.height, CROP), max(image.width, CROP)
    padded = np.full((height, width, 3), PAD_VALUE, np.uint8)
    padded[: image.height, : image.width] = pixels
    instances = np.zeros((height, width), np.uint8)
    for k, mask in enumerate(masks, start=1):
        instances[: image.height, : image.width][mask] = k
    classes = np.zeros(MAX_OBJECTS, np.int32)
    classes[: len(masks)] = [o.category + 1 for o in image.objects[:MAX_OBJECTS]]
    corners = []
    for obj in image.objects[:MAX_OBJECTS]:
        x1, y1 = (math.floor(v) for v in obj.box[:2])
        x2, y2 = (math.ceil(v) for v in obj.box[2:])
        left = int(rng.integers(max(0, x2 - CROP), min(x1, width - CROP) + 1))
        top = int(rng.integers(max(0, y2 - CROP), min(y1, height - CROP) + 1))
        corners.append((slice(top, top + CROP), slice(left, left + CROP)))
    crops = [padded[window] for window in corners]
    rows = []
    for crop, window, ids in zip(crops, corners, pool.map(superpixels, crops), strict=True):
        crop_instances = instances[window]
        object_masks_in_crop = crop_instances[None] == np.arange(1, len(masks) + 1)[:, None, None]
        sp_labels = np.full(MAX_SUPERPIXELS, -1, np.int32)
        found = majority_labels(ids, object_masks_in_crop, classes[: len(masks)])[:MAX_SUPERPIXELS]
        sp_labels[: len(found)] = found
        kept_ids = np.where(ids < MAX_SUPERPIXELS, ids, -1).astype(np.int16)
        rows.append((crop, crop_instances, classes, kept_ids, sp_labels))
    return rows


def build_samples(images: list[CocoImage], seed: int) -> Samples:
    rng = np.random.default_rng(seed)
    rows: list[tuple] = []
    progress = Progress("samples", len(images))
    # SLIC releases the GIL, so threads segment crops in parallel (same results as serial).
    with ThreadPoolExecutor(len(os.sched_getaffinity(0))) as pool:
        for image in images:
            rows += image_samples(rng, image, pool)
            progress.step(note=f"{len(rows)} crops")
    return Samples(*(np.stack(column) for column in zip(*rows, strict=True)))
