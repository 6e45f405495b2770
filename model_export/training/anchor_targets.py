"""What a region proposal network should say about each anchor of a training crop
(Faster R-CNN, Ren et al. 2015, section 3.1.2), in the conventions of `RegionProposals`.

An anchor is positive when its IoU with a whole object is at least POSITIVE_IOU, or when it is
the best anchor of some whole object; negative when its IoU with every object (cut ones too) is
below NEGATIVE_IOU; the rest, and anchors on an object cut by the crop's edge, are ignored.
Each crop samples SAMPLED anchors, at most half of them positive.

Box deltas are the exact inverse of `proposal_ops.decode`: an anchor [cx, cy, w, h] with deltas
[dx, dy, dw, dh] decodes to the box with exclusive ends [C - W / 2, C + W / 2] on each axis,
where C = cx + dx * w and W = w * exp(dw).
"""

from dataclasses import dataclass

import numpy as np

from model_export.layers import RegionProposals
from model_export.proposal_reference import anchor_grid as reference_grid
from model_export.training.boxes import box_iou

POSITIVE_IOU = 0.7
NEGATIVE_IOU = 0.3
SAMPLED = 256
IGNORED, NEGATIVE, POSITIVE = -1, 0, 1


@dataclass(frozen=True)
class AnchorTargets:
    labels: np.ndarray  # (N,) int8: POSITIVE, NEGATIVE or IGNORED (not sampled)
    deltas: np.ndarray  # (N, 4) float32, meaningful where POSITIVE


def anchor_grid(layer: RegionProposals, height: int, width: int) -> np.ndarray:
    """(H * W * A, 4) float32 [cx, cy, w, h] in the (y, x, anchor) order the layer reads: the
    NumPy reference's anchors for the layer's settings (computed once per training run)."""
    return reference_grid(layer.anchor_sizes, layer.anchor_ratios, layer.stride, height, width)


def as_boxes(anchors: np.ndarray) -> np.ndarray:
    """[cx, cy, w, h] -> [x1, y1, x2, y2] with exclusive ends (what zero deltas decode to)."""
    half = anchors[:, 2:] / 2
    return np.concatenate([anchors[:, :2] - half, anchors[:, :2] + half], axis=1)


def encode(anchors: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Deltas that decode `anchors` [cx, cy, w, h] into `boxes` (exclusive ends), row by row."""
    size = boxes[:, 2:] - boxes[:, :2]
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    shift = (centre - anchors[:, :2]) / anchors[:, 2:]
    return np.concatenate([shift, np.log(size / anchors[:, 2:])], axis=1).astype(np.float32)


def anchor_targets(
    rng: np.random.Generator, anchors: np.ndarray, objects: np.ndarray, whole: np.ndarray
) -> AnchorTargets:
    """Labels and deltas of `anchors` (N, 4) [cx, cy, w, h] for a crop whose objects are
    `objects` (M, 4) with exclusive ends, `whole` (M,) False where the crop cuts the object."""
    labels = np.full(len(anchors), IGNORED, np.int8)
    deltas = np.zeros((len(anchors), 4), np.float32)
    if len(objects) == 0:
        labels[:] = NEGATIVE
        return AnchorTargets(sample(rng, labels), deltas)
    iou = box_iou(as_boxes(anchors), objects)  # (N, M)
    labels[iou.max(axis=1) < NEGATIVE_IOU] = NEGATIVE
    wanted = np.where(whole, iou, 0.0)
    best = wanted.argmax(axis=1)
    positive = wanted.max(axis=1) >= POSITIVE_IOU
    # Every whole object's best anchors (ties included) are positive, however low their IoU.
    tops = wanted.max(axis=0)
    for obj in np.flatnonzero(whole & (tops > 0)):
        hits = wanted[:, obj] == tops[obj]
        positive |= hits
        best[hits] = obj
    labels[(iou[:, ~whole] >= NEGATIVE_IOU).any(axis=1)] = IGNORED
    labels[positive] = POSITIVE
    chosen = labels == POSITIVE
    deltas[chosen] = encode(anchors[chosen], objects[best[chosen]])
    return AnchorTargets(sample(rng, labels), deltas)


def sample(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """At most SAMPLED / 2 positives and SAMPLED in all kept; the others become IGNORED."""
    kept = labels.copy()
    positives = np.flatnonzero(labels == POSITIVE)
    if len(positives) > SAMPLED // 2:
        kept[rng.choice(positives, len(positives) - SAMPLED // 2, replace=False)] = IGNORED
    negatives = np.flatnonzero(labels == NEGATIVE)
    room = SAMPLED - int(np.count_nonzero(kept == POSITIVE))
    if len(negatives) > room:
        kept[rng.choice(negatives, len(negatives) - room, replace=False)] = IGNORED
    return kept
