"""Bin edges of Caffe / MXNet / ONNX MaxRoiPool, computed exactly in TensorFlow.

All index arithmetic runs in float64 on values that are float32 in the reference
formula: a float32 product or quotient computed in float64 and cast back is the
correctly rounded float32 result, and no graph rewrite of ``x / c`` into
``x * (1 / c)`` can move a bin edge (a one-ulp float64 error never crosses a
float32 rounding boundary for these small integers).
"""

import numpy as np
import tensorflow as tf


def as_float32_in_float64(x: tf.Tensor) -> tf.Tensor:
    """Round a float64 tensor to float32 precision, keeping the float64 dtype."""
    return tf.cast(tf.cast(x, tf.float32), tf.float64)


def round_half_away(x: tf.Tensor) -> tf.Tensor:
    """C's round(): halves go away from zero (tf.round goes to even)."""
    return tf.sign(x) * tf.floor(tf.abs(x) + 0.5)


def bin_edges(
    start: tf.Tensor, end: tf.Tensor, pooled: int, scale: float, limit: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """Half-open bin edges along one axis.

    Args:
        start, end: (R,) float32 roi coordinates in input pixels (end inclusive).
        pooled: number of bins along the axis.
        scale: spatial scale from input pixels to feature cells.
        limit: feature-map extent along the axis (scalar int).

    Returns:
        Two (R, pooled) int64 tensors, bin starts and ends clamped to [0, limit].
    """
    scale64 = tf.constant(float(np.float32(scale)), tf.float64)
    first = round_half_away(as_float32_in_float64(tf.cast(start, tf.float64) * scale64))
    last = round_half_away(as_float32_in_float64(tf.cast(end, tf.float64) * scale64))
    length = tf.maximum(last - first + 1.0, 1.0)
    bin_size = as_float32_in_float64(length / float(pooled))  # (R,)
    steps = tf.range(pooled + 1, dtype=tf.float64)  # (P + 1,)
    offsets = as_float32_in_float64(steps[None, :] * bin_size[:, None])  # (R, P + 1)
    lower = tf.floor(offsets[:, :-1]) + first[:, None]
    upper = tf.math.ceil(offsets[:, 1:]) + first[:, None]
    limit64 = tf.cast(limit, tf.float64)
    return (
        tf.cast(tf.clip_by_value(lower, 0.0, limit64), tf.int64),
        tf.cast(tf.clip_by_value(upper, 0.0, limit64), tf.int64),
    )


def floor_log2(length: tf.Tensor, max_bits: int = 30) -> tf.Tensor:
    """floor(log2(length)) for positive int64 lengths, by exact comparisons."""
    powers = tf.constant([2**k for k in range(1, max_bits)], tf.int64)
    return tf.reduce_sum(tf.cast(length[..., None] >= powers, tf.int64), axis=-1)
