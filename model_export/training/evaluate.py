"""Held-out metrics at native resolution: boxes on ground truth, superpixels, and the proposal
head's recall when the model has one."""

from dataclasses import dataclass

import keras
import numpy as np

from model_export.dataset.coco import CocoImage
from model_export.model import PAD_VALUE, STRIDE, superpixel_grid
from model_export.progress import Progress
from model_export.training.boxes import box_iou, boxes_to_rois
from model_export.training.chance import chance_accuracy
from model_export.training.samples import load_rgb, object_masks
from model_export.training.superpixels import majority_labels, superpixels


@dataclass(frozen=True)
class Metrics:
    box_accuracy: float  # on ground-truth boxes; predicting background counts as wrong
    box_count: int
    superpixel_accuracy: float  # all superpixels, background included
    superpixel_object_accuracy: float  # superpixels labelled with an object class
    superpixel_count: int
    box_chance: float = 0.0  # chance_accuracy of the held-out boxes (0 in older records)
    # A proposal head's: objects with a proposal at IoU >= 0.5 (and 0.7), proposals per image.
    proposal_recall: float | None = None
    proposal_recall_07: float | None = None
    proposals_per_image: float | None = None


def pad_to_stride(image: np.ndarray) -> np.ndarray:
    height, width = (-(-side // STRIDE) * STRIDE for side in image.shape[:2])
    padded = np.full((height, width, 3), PAD_VALUE, np.uint8)
    padded[: image.shape[0], : image.shape[1]] = image
    return padded


def predict_image(
    model: keras.Model, image: np.ndarray, boxes: np.ndarray, ids: np.ndarray
) -> dict[str, np.ndarray]:
    """The model's outputs for `boxes` (R, 4) and superpixels `ids` (H, W) in one image."""
    padded = pad_to_stride(image)
    grid = np.full(padded.shape[:2], -1, np.int32)
    grid[: ids.shape[0], : ids.shape[1]] = ids
    rois = boxes_to_rois(boxes, np.zeros(len(boxes)))
    out = model([padded[None], rois, superpixel_grid(grid)[None]], training=False)
    return {name: np.asarray(value) for name, value in out.items()}


def best_proposal_iou(proposals: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(M,) the best IoU of each object box (exclusive ends) with a proposal row
    [b, x1, y1, x2, y2] (inclusive ends)."""
    found = proposals[:, 1:] + np.array([0, 0, 1, 1], np.float32)
    if len(found) == 0:
        return np.zeros(len(boxes))
    return box_iou(boxes, found).max(axis=1)


def evaluate(
    model: keras.Model, images: list[CocoImage], superpixel_images: int, foreground_classes: int
) -> Metrics:
    box_hits = box_total = sp_hits = sp_total = obj_hits = obj_total = 0
    box_classes: list[int] = []
    proposal_ious: list[np.ndarray] = []
    proposal_counts: list[int] = []
    progress = Progress("evaluate", len(images))
    for n, item in enumerate(images):
        pixels = load_rgb(item)
        boxes = np.asarray([o.box for o in item.objects], np.float32).reshape(-1, 4)
        classes = np.asarray([o.category + 1 for o in item.objects])
        with_superpixels = n < superpixel_images
        ids = superpixels(pixels) if with_superpixels else -np.ones(pixels.shape[:2], np.int32)
        out = predict_image(model, pixels, boxes, ids)
        box_scores, sp_scores = out["roi_scores"], out["superpixel_scores"][0]
        if "proposals" in out:
            proposal_ious.append(best_proposal_iou(out["proposals"], boxes))
            proposal_counts.append(len(out["proposals"]))
        box_hits += int(np.sum(box_scores.argmax(axis=1) == classes))
        box_total += len(classes)
        box_classes += classes.tolist()
        if with_superpixels:
            labels = majority_labels(ids, object_masks(item), classes)
            seen = np.isin(np.arange(len(labels)), superpixel_grid(ids))
            predicted = sp_scores[: len(labels)].argmax(axis=1)
            right = (predicted == labels) & seen
            sp_hits, sp_total = sp_hits + int(right.sum()), sp_total + int(seen.sum())
            objects = seen & (labels > 0)
            obj_hits += int((right & objects).sum())
            obj_total += int(objects.sum())
        progress.step()
    return Metrics(
        box_hits / max(box_total, 1),
        box_total,
        sp_hits / max(sp_total, 1),
        obj_hits / max(obj_total, 1),
        sp_total,
        chance_accuracy(box_classes, foreground_classes),
        *proposal_metrics(proposal_ious, proposal_counts),
    )


def proposal_metrics(
    ious: list[np.ndarray], counts: list[int]
) -> tuple[float | None, float | None, float | None]:
    if not counts:
        return None, None, None
    best = np.concatenate(ious)
    return float(np.mean(best >= 0.5)), float(np.mean(best >= 0.7)), float(np.mean(counts))
