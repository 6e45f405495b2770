"""From scores to the response's regions: labels, top-k, proposals filtering, masks."""

from dataclasses import dataclass
from typing import Any

import numpy as np

from service.model_info import ModelInfo
from service.proposals import classwise_nms


@dataclass(frozen=True)
class ProposalFilter:
    score_threshold: float
    nms_iou: float


def region(
    info: ModelInfo, index: int, box: np.ndarray, scores: np.ndarray, top_k: int
) -> dict[str, Any]:
    best = np.argsort(-scores, kind="stable")[:top_k]
    top = [{"label": info.classes[c], "score": round(float(scores[c]), 6)} for c in best]
    return {
        "index": index,
        "box": [round(float(v), 2) for v in box],
        "label": top[0]["label"],
        "score": top[0]["score"],
        "top_k": top,
    }


def box_regions(info: ModelInfo, boxes: np.ndarray, scores: np.ndarray, top_k: int) -> list:
    return [
        region(info, i, b, s, top_k) for i, (b, s) in enumerate(zip(boxes, scores, strict=True))
    ]


def proposal_regions(
    info: ModelInfo, boxes: np.ndarray, scores: np.ndarray, top_k: int, rule: ProposalFilter
) -> list:
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
) -> list:
    out = []
    for i, ((box, rle), s) in enumerate(zip(masks, scores, strict=True)):
        out.append({**region(info, i, np.asarray(box), s, top_k), "mask": rle})
    return out
