"""A plain NumPy reference of `RegionProposals`, written for obviousness, not speed.

Float32 throughout, in the same order of operations as the layer. Ranking: logit descending,
then anchor index ascending. NMS: greedy, box by box, with onnxruntime's IoU test
(`onnxruntime/core/providers/cpu/object_detection/non_max_suppression_helper.h`) on boxes
[x1, y1, x2 + 1, y2 + 1].
"""

import math
from collections.abc import Sequence

import numpy as np

F = np.float32


def anchor_grid(
    sizes: Sequence[float], ratios: Sequence[float], stride: int, height: int, width: int
) -> np.ndarray:
    """(H * W * A, 4) float32 [cx, cy, w, h], in (y, x, anchor) order."""
    rows = []
    for y in range(height):
        for x in range(width):
            for ratio in ratios:
                for size in sizes:
                    w, h = F(size / math.sqrt(ratio)), F(size * math.sqrt(ratio))
                    centre = F((stride - 1) / 2.0)
                    rows.append([centre + F(x * stride), centre + F(y * stride), w, h])
    return np.asarray(rows, F).reshape(-1, 4)


def decode_box(anchor: np.ndarray, delta: np.ndarray, image_h: int, image_w: int) -> np.ndarray:
    """One anchor [cx, cy, w, h] and delta [dx, dy, dw, dh] -> [x1, y1, x2, y2], clipped."""
    cx, cy, w, h = (F(v) for v in anchor)
    dx, dy, dw, dh = (F(v) for v in delta)
    clip = F(math.log(1000.0 / 16.0))
    dw, dh = min(dw, clip), min(dh, clip)
    centre_x, centre_y = F(dx * w) + cx, F(dy * h) + cy
    half_w, half_h = F(0.5) * F(np.exp(dw) * w), F(0.5) * F(np.exp(dh) * h)
    right, bottom = F(image_w - 1), F(image_h - 1)
    x1 = np.clip(centre_x - half_w, F(0), right)
    y1 = np.clip(centre_y - half_h, F(0), bottom)
    x2 = np.clip(F(centre_x + half_w) - F(1), F(0), right)
    y2 = np.clip(F(centre_y + half_h) - F(1), F(0), bottom)
    return np.array([x1, y1, x2, y2], F)


def onnxruntime_overlaps(kept: np.ndarray, box: np.ndarray, iou_threshold: float) -> bool:
    """onnxruntime's SuppressByIOU on two boxes [x1, y1, x2, y2] with exclusive ends."""
    ax_min, ax_max = min(kept[0], kept[2]), max(kept[0], kept[2])
    bx_min, bx_max = min(box[0], box[2]), max(box[0], box[2])
    ix_min, ix_max = max(ax_min, bx_min), min(ax_max, bx_max)
    if ix_max <= ix_min:
        return False
    ay_min, ay_max = min(kept[1], kept[3]), max(kept[1], kept[3])
    by_min, by_max = min(box[1], box[3]), max(box[1], box[3])
    iy_min, iy_max = max(ay_min, by_min), min(ay_max, by_max)
    if iy_max <= iy_min:
        return False
    inter = F(ix_max - ix_min) * F(iy_max - iy_min)
    if inter <= 0:
        return False
    area_a = F(ax_max - ax_min) * F(ay_max - ay_min)
    area_b = F(bx_max - bx_min) * F(by_max - by_min)
    union = F(area_a + area_b) - inter
    if area_a <= 0 or area_b <= 0 or union <= 0:
        return False
    return bool(F(inter / union) > F(iou_threshold))


def nms(boxes: np.ndarray, iou_threshold: float, max_kept: int) -> list[int]:
    """Positions kept by greedy NMS of (K, 4) boxes (inclusive ends) already in rank order."""
    exclusive = boxes.astype(F) + np.array([0, 0, 1, 1], F)
    kept: list[int] = []
    for j, box in enumerate(exclusive):
        if len(kept) == max_kept:
            break
        if not any(onnxruntime_overlaps(exclusive[i], box, iou_threshold) for i in kept):
            kept.append(j)
    return kept


def region_proposals(
    objectness: np.ndarray,
    deltas: np.ndarray,
    image_size: tuple[int, int],
    sizes: Sequence[float],
    ratios: Sequence[float],
    stride: int,
    settings: tuple[int, int, float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """(B, H, W, A) logits, (B, H, W, A * 4) deltas, image (height, width) -> (R, 5)
    [b, x1, y1, x2, y2] and (R,) sigmoid scores; settings (pre_nms, post_nms, iou, min_size)."""
    pre_nms, post_nms, iou_threshold, min_size = settings
    batch, height, width, _ = objectness.shape
    grid = anchor_grid(sizes, ratios, stride, height, width)
    rows, scores = [], []
    for b in range(batch):
        logits = objectness[b].reshape(-1).astype(F)
        steps = deltas[b].reshape(-1, 4).astype(F)
        boxes = np.array([decode_box(a, d, *image_size) for a, d in zip(grid, steps, strict=True)])
        boxes = boxes.reshape(-1, 4)
        sides_ok = (boxes[:, 2] - boxes[:, 0] + F(1) >= F(min_size)) & (
            boxes[:, 3] - boxes[:, 1] + F(1) >= F(min_size)
        )
        candidates = [i for i in range(len(logits)) if sides_ok[i]]
        candidates.sort(key=lambda i: (-logits[i], i))  # score descending, then index
        candidates = candidates[:pre_nms]
        for position in nms(boxes[candidates], iou_threshold, post_nms):
            i = candidates[position]
            rows.append([b, *boxes[i]])
            scores.append(F(1) / (F(1) + np.exp(-logits[i])))
    return np.asarray(rows, F).reshape(-1, 5), np.asarray(scores, F)
