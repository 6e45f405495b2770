"""Region proposal maths (Faster R-CNN, Ren et al. 2015) as pure TensorFlow functions.

Every step is float32 in one fixed order of operations that the ONNX lowering
(`model_export.onnx_export.proposal_lowering`) and the NumPy reference
(`model_export.proposal_reference`) repeat, so all three select the same boxes.

Anchors are indexed (y, x, a) row-major over the feature map, as `objectness.reshape(B, -1)`
reads them. Ranking is by objectness logit, descending, ties by anchor index ascending (the
order of `tf.math.top_k` and ONNX TopK). Suppression is onnxruntime's NonMaxSuppression on
boxes [x1, y1, x2 + 1, y2 + 1] (inclusive ends made exclusive, so a box's area counts its
pixels as Faster R-CNN's NMS does): greedy, best first, a box is dropped when its IoU with a
kept box is above the threshold, computed as onnxruntime's CPU kernel computes it.
"""

import math
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

DELTA_CLIP = math.log(1000.0 / 16.0)  # Detectron's cap on dw, dh: exp() stays finite


def base_anchors(sizes: Sequence[float], ratios: Sequence[float], stride: int) -> np.ndarray:
    """(A, 4) float32 [cx, cy, w, h] of the anchors of the cell at the origin, ratio-major
    (A = len(ratios) * len(sizes)); ratio = h / w, area = size**2."""
    centre = (stride - 1) / 2.0
    rows = [
        [centre, centre, size / math.sqrt(ratio), size * math.sqrt(ratio)]
        for ratio in ratios
        for size in sizes
    ]
    return np.asarray(rows, np.float64).astype(np.float32)


def anchors(base: np.ndarray, height: tf.Tensor, width: tf.Tensor, stride: int) -> tf.Tensor:
    """(H * W * A, 4) [cx, cy, w, h]: the base anchors moved to every cell of an H x W map."""
    shift_y = tf.cast(tf.range(height), tf.float32) * float(stride)
    shift_x = tf.cast(tf.range(width), tf.float32) * float(stride)
    cx = base[:, 0] + shift_x[None, :, None]  # (1, W, A)
    cy = base[:, 1] + shift_y[:, None, None]  # (H, 1, A)
    shape = tf.stack([height, width, len(base)])
    columns = [
        tf.broadcast_to(cx, shape),
        tf.broadcast_to(cy, shape),
        tf.broadcast_to(base[:, 2], shape),
        tf.broadcast_to(base[:, 3], shape),
    ]
    return tf.reshape(tf.stack(columns, axis=-1), [-1, 4])


def decode(
    anchor: tf.Tensor, deltas: tf.Tensor, image_height: tf.Tensor, image_width: tf.Tensor
) -> tf.Tensor:
    """(N, 4) anchors [cx, cy, w, h] and (B, N, 4) deltas [dx, dy, dw, dh] -> (B, N, 4) boxes
    [x1, y1, x2, y2] (inclusive ends), clipped to the image."""
    cx, cy, w, h = tf.unstack(anchor, axis=-1)
    dx, dy, dw, dh = tf.unstack(deltas, axis=-1)
    dw, dh = tf.minimum(dw, DELTA_CLIP), tf.minimum(dh, DELTA_CLIP)
    centre_x, centre_y = dx * w + cx, dy * h + cy
    half_w, half_h = 0.5 * (tf.exp(dw) * w), 0.5 * (tf.exp(dh) * h)
    right = tf.cast(image_width, tf.float32) - 1.0
    bottom = tf.cast(image_height, tf.float32) - 1.0
    x1 = tf.clip_by_value(centre_x - half_w, 0.0, right)
    y1 = tf.clip_by_value(centre_y - half_h, 0.0, bottom)
    x2 = tf.clip_by_value(centre_x + half_w - 1.0, 0.0, right)
    y2 = tf.clip_by_value(centre_y + half_h - 1.0, 0.0, bottom)
    return tf.stack([x1, y1, x2, y2], axis=-1)


def large_enough(boxes: tf.Tensor, min_size: float) -> tf.Tensor:
    """(B, N) bool: both sides (inclusive ends) at least min_size pixels."""
    x1, y1, x2, y2 = tf.unstack(boxes, axis=-1)
    return (x2 - x1 + 1.0 >= min_size) & (y2 - y1 + 1.0 >= min_size)


def overlaps(boxes: tf.Tensor, iou_threshold: float) -> tf.Tensor:
    """(B, K, K) bool: box i and box j (inclusive ends) have IoU above the threshold, as
    onnxruntime's NonMaxSuppression decides it."""
    x1, y1, x2, y2 = tf.unstack(boxes, axis=-1)
    x2, y2 = x2 + 1.0, y2 + 1.0
    x_min, x_max = tf.minimum(x1, x2), tf.maximum(x1, x2)
    y_min, y_max = tf.minimum(y1, y2), tf.maximum(y1, y2)
    inter_x_min = tf.maximum(x_min[:, :, None], x_min[:, None, :])
    inter_x_max = tf.minimum(x_max[:, :, None], x_max[:, None, :])
    inter_y_min = tf.maximum(y_min[:, :, None], y_min[:, None, :])
    inter_y_max = tf.minimum(y_max[:, :, None], y_max[:, None, :])
    inter = (inter_x_max - inter_x_min) * (inter_y_max - inter_y_min)
    area = (x_max - x_min) * (y_max - y_min)
    union = area[:, :, None] + area[:, None, :] - inter
    positive = (
        (inter_x_max > inter_x_min)
        & (inter_y_max > inter_y_min)
        & (inter > 0.0)
        & (area[:, :, None] > 0.0)
        & (area[:, None, :] > 0.0)
        & (union > 0.0)
    )
    return positive & (inter / tf.where(positive, union, 1.0) > iou_threshold)


def greedy_nms(live: tf.Tensor, over: tf.Tensor, max_kept: int) -> tf.Tensor:
    """(B, K) bool kept by greedy NMS of boxes in rank order; `live` (B, K): candidates.

    Box j is kept iff it is live and no kept box i < j overlaps it. That rule fixes entry j from
    entries < j only, so it has exactly one solution, and iterating it from `live` settles one
    more entry each pass: the loop stops at that solution, usually after a few passes.
    """
    count = tf.shape(live)[1]
    earlier = tf.range(count)[:, None] < tf.range(count)[None, :]  # (K, K): i < j
    suppressors = over & earlier[None]

    def step(keep: tf.Tensor, _: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        hit = tf.reduce_any(suppressors & keep[:, :, None], axis=1)
        new = live & ~hit
        return new, tf.reduce_any(new != keep)

    keep, _ = tf.while_loop(lambda _, changed: changed, step, (live, tf.constant(True)))
    return keep & (tf.cumsum(tf.cast(keep, tf.int32), axis=1) <= max_kept)


def propose(
    objectness: tf.Tensor,
    deltas: tf.Tensor,
    image_size: tuple[tf.Tensor, tf.Tensor],
    base: np.ndarray,
    stride: int,
    settings: tuple[int, int, float, float],
) -> tuple[tf.Tensor, tf.Tensor]:
    """(B, H, W, A) logits, (B, H, W, A * 4) deltas -> (R, 5) proposals [b, x1, y1, x2, y2]
    and (R,) sigmoid scores; settings = (pre_nms, post_nms, iou_threshold, min_size)."""
    pre_nms, post_nms, iou_threshold, min_size = settings
    shape = tf.shape(objectness)
    batch, height, width = shape[0], shape[1], shape[2]
    logits = tf.reshape(tf.cast(objectness, tf.float32), [batch, -1])  # (B, N)
    deltas = tf.reshape(tf.cast(deltas, tf.float32), [batch, -1, 4])
    boxes = decode(anchors(base, height, width, stride), deltas, *image_size)
    ranked = tf.where(large_enough(boxes, min_size), logits, -np.inf)
    top, order = tf.math.top_k(ranked, k=tf.minimum(pre_nms, tf.shape(logits)[1]))  # (B, K)
    candidates = tf.gather(boxes, order, batch_dims=1)  # (B, K, 4)
    keep = greedy_nms(top > -np.inf, overlaps(candidates, iou_threshold), post_nms)
    where = tf.where(keep)  # (R, 2) [b, k], image by image, best first
    image = tf.cast(where[:, :1], tf.float32)
    proposals = tf.concat([image, tf.gather_nd(candidates, where)], axis=1)
    return proposals, tf.sigmoid(tf.gather_nd(top, where))
