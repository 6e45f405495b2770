"""Superpixel pooling (Kwak et al., AAAI 2017) as segment reductions."""

import tensorflow as tf


def superpixel_pool(features: tf.Tensor, superpixels: tf.Tensor, mode: str) -> tf.Tensor:
    """Pool (B, H, W, C) features over (B, H, W) ids into (B, S, C), S = 1 + max id.

    Pixels with a negative id are ignored; a superpixel with no pixels gives 0. Means of
    16-bit features are summed in float32 (a float16 sum of a few hundred pixels overflows).
    """
    shape = tf.shape(features, out_type=tf.int64)
    batch, channels = shape[0], shape[3]
    ids = tf.cast(superpixels, tf.int64)
    count = tf.maximum(tf.reduce_max(tf.concat([tf.reshape(ids, [-1]), [-1]], 0)) + 1, 0)
    image = tf.range(batch, dtype=tf.int64)[:, None, None]
    # Ignored pixels go to one extra segment past the end, dropped afterwards.
    segment = tf.where(ids >= 0, image * count + ids, batch * count)
    segment = tf.reshape(segment, [-1])
    values = tf.reshape(features, [-1, channels])
    segments = batch * count + 1
    members = tf.math.unsorted_segment_sum(tf.ones_like(segment, tf.float32), segment, segments)
    if mode == "average":
        wide = tf.float32 if values.dtype in (tf.float16, tf.bfloat16) else values.dtype
        total = tf.math.unsorted_segment_sum(tf.cast(values, wide), segment, segments)
        pooled = tf.cast(total / tf.cast(tf.maximum(members, 1.0), wide)[:, None], values.dtype)
    else:
        pooled = tf.math.unsorted_segment_max(values, segment, segments)
        pooled = tf.where(members[:, None] > 0, pooled, tf.zeros_like(pooled))
    return tf.reshape(pooled[:-1], [batch, count, channels])
