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


def region(
    info: ModelInfo,
    index: int,
    box: np.ndarray,
    scores: np.ndarray,
    top_k: int,
    mask: Mask | None = None,
) -> Region:
    best = np.argsort(-scores, kind="stable")[:top_k]
    top = tuple(ClassScore(info.classes[c], round(float(scores[c]), 6)) for c in best)
    x1, y1, x2, y2 = (round(float(v), 2) for v in box)
    return Region(index, (x1, y1, x2, y2), top[0].label, top[0].score, top, mask)


def box_regions(info: ModelInfo, boxes: np.ndarray, scores: np.ndarray, top_k: int) -> list[Region]:
    return [
        region(info, i, b, s, top_k) for i, (b, s) in enumerate(zip(boxes, scores, strict=True))
    ]


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
    return [region(info, i, boxes[c], scores[c], top_k) for i, c in enumerate(chosen)]


def _background(info: ModelInfo) -> list[int]:
    """The background class id, or none (-1 in the metadata)."""
    return [] if info.background_class < 0 else [info.background_class]


def superpixel_regions(
    info: ModelInfo, masks: list[tuple[list[float], dict]], scores: np.ndarray, top_k: int
) -> list[Region]:
    """`masks`: (box, COCO RLE) of each superpixel (`service.regions.superpixels.masks`)."""
    return [
        region(info, i, np.asarray(box), s, top_k, _mask(rle))
        for i, ((box, rle), s) in enumerate(zip(masks, scores, strict=True))
    ]


def _mask(rle: dict) -> Mask:
    height, width = rle["size"]
    return Mask((height, width), rle["counts"])
