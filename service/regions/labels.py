"""From scores to the answer's regions: labels, top-k, proposals filtering, masks."""

from dataclasses import dataclass

import numpy as np

from service.inference.model_info import ModelInfo
from service.regions.answer import ClassScore, Mask, Region
from service.regions.proposals import classwise_nms
from service.settings import Settings


@dataclass(frozen=True)
class ProposalFilter:
    score_threshold: float
    nms_iou: float


def proposal_filter(settings: Settings) -> ProposalFilter:
    return ProposalFilter(settings.score_threshold, settings.nms_iou)


def regions(
    info: ModelInfo,
    boxes: np.ndarray,
    scores: np.ndarray,
    top_k: int,
    masks: list[Mask] | None = None,
) -> list[Region]:
    """One region per row, indexed from 0: the top_k classes of its scores, best first (ties
    in class order), scores rounded to 6 decimals and box to 2, as Python's round does. The
    numpy work is done once for all rows; the loop only assembles the typed answer."""
    best = np.argsort(-scores, axis=1, kind="stable")[:, :top_k]
    top_scores = rounded(np.take_along_axis(scores, best, axis=1), 6)
    labels = info.classes
    top_labels = [[labels[c] for c in row] for row in best.tolist()]
    out = []
    for i, (names, values, box) in enumerate(
        zip(top_labels, top_scores, rounded(np.asarray(boxes), 2), strict=True)
    ):
        top = tuple(map(ClassScore, names, values))
        mask = None if masks is None else masks[i]
        x1, y1, x2, y2 = box
        out.append(Region(i, (x1, y1, x2, y2), names[0], values[0], top, mask))
    return out


def rounded(values: np.ndarray, digits: int) -> list[list[float]]:
    """Each row's values as Python's round(value, digits) gives them, for all at once:
    rint(value * 10**digits) / 10**digits is the same double wherever the scaled value is
    not within rounding error of a half (the division is correctly rounded, as Python's
    decimal-string conversion is); those few go through round itself."""
    scale = 10.0**digits
    scaled = values.astype(np.float64) * scale
    out = np.rint(scaled) / scale
    margin = 1e-6 + np.abs(scaled) * 2.0**-40
    near_half = np.abs(np.abs(scaled - np.trunc(scaled)) - 0.5) < margin
    for at in zip(*np.nonzero(near_half), strict=True):
        out[at] = round(float(values[at]), digits)
    values_out: list[list[float]] = out.tolist()
    return values_out


def box_regions(info: ModelInfo, boxes: np.ndarray, scores: np.ndarray, top_k: int) -> list[Region]:
    return regions(info, boxes, scores, top_k)


def proposal_regions(
    info: ModelInfo, boxes: np.ndarray, scores: np.ndarray, top_k: int, rule: ProposalFilter
) -> list[Region]:
    """Objects only: background dropped (when the model has one), weak scores dropped,
    overlaps suppressed per class."""
    object_ids = np.delete(np.arange(len(info.classes)), _background(info))
    objects = scores[:, object_ids]
    best = objects.argmax(axis=1) if len(objects) else np.zeros(0, int)
    best_score = objects.max(axis=1) if len(objects) else np.zeros(0)
    is_object = (
        ~np.isin(scores.argmax(axis=1), _background(info)) if len(scores) else best_score > 0
    )
    candidates = np.flatnonzero(is_object)
    kept = classwise_nms(
        boxes[candidates],
        best_score[candidates],
        object_ids[best[candidates]],
        rule.score_threshold,
        rule.nms_iou,
    )
    chosen = candidates[kept]
    return regions(info, boxes[chosen].reshape(-1, 4), scores[chosen], top_k)


def _background(info: ModelInfo) -> list[int]:
    """The background class id, or none (-1 in the metadata)."""
    return [] if info.background_class < 0 else [info.background_class]


def superpixel_regions(
    info: ModelInfo, masks: list[tuple[list[float], dict]], scores: np.ndarray, top_k: int
) -> list[Region]:
    """`masks`: (box, COCO RLE) of each superpixel (`service.regions.superpixels.masks`)."""
    boxes = np.array([box for box, _ in masks], np.float64).reshape(-1, 4)
    shapes = [Mask((rle["size"][0], rle["size"][1]), rle["counts"]) for _, rle in masks]
    return regions(info, boxes, scores, top_k, shapes)
