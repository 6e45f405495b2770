"""From scores to the answer's regions: labels, top-k, proposals filtering, masks."""

from dataclasses import dataclass

import numpy as np

from service.inference.model_info import ModelInfo
from service.regions.answer import MaskColumn, RegionColumns
from service.regions.proposals import classwise_nms
from service.regions.superpixels import SuperpixelMasks
from service.settings import Settings


@dataclass(frozen=True)
class ProposalFilter:
    score_threshold: float
    nms_iou: float
    min_objectness: float = 0.0  # a proposal head's proposals below it are not classified


def proposal_filter(settings: Settings) -> ProposalFilter:
    return ProposalFilter(settings.score_threshold, settings.nms_iou, settings.min_objectness)


def regions(
    info: ModelInfo,
    boxes: np.ndarray,
    scores: np.ndarray,
    top_k: int,
    masks: MaskColumn | None = None,
) -> RegionColumns:
    """One region per row, indexed from 0: the top_k classes of its scores, best first (ties
    in class order), scores rounded to 6 decimals and box to 2, as Python's round does.
    Columns, for all rows at once."""
    best = np.argsort(-scores, axis=1, kind="stable")[:, :top_k]
    top_scores = rounded(np.take_along_axis(scores, best, axis=1), 6)
    shown = rounded(np.asarray(boxes).reshape(-1, 4), 2)
    if len(shown) != len(best) or (masks is not None and len(masks) != len(best)):
        raise ValueError(f"{len(best)} rows of scores for {len(shown)} boxes")
    return RegionColumns(tuple(info.classes), shown, best, top_scores, masks)


def rounded(values: np.ndarray, digits: int) -> np.ndarray:
    """The values as Python's round(value, digits) gives them (float64), for all at once:
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
    return out


def box_regions(
    info: ModelInfo, boxes: np.ndarray, scores: np.ndarray, top_k: int
) -> RegionColumns:
    return regions(info, boxes, scores, top_k)


def proposal_regions(
    info: ModelInfo, boxes: np.ndarray, scores: np.ndarray, top_k: int, rule: ProposalFilter
) -> RegionColumns:
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
    info: ModelInfo, masks: SuperpixelMasks, scores: np.ndarray, top_k: int
) -> RegionColumns:
    """`masks`: the box and COCO RLE of each superpixel, row for row with `scores`
    (`service.regions.superpixels.masks`, taken at the ids answered)."""
    return regions(info, masks.boxes, scores, top_k, masks.rle)
