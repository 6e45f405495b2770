"""Vectorised Fast R-CNN RoI max pooling on a sparse range-max table.

For a feature map F, level (i, j) of the table holds the max of F over the
2**i x 2**j window starting at each cell. Any bin [h0, h1) x [w0, w1) is the max
of four overlapping windows of size 2**floor(log2(h1 - h0)) x 2**floor(log2(w1 - w0))
anchored at its corners, so each bin costs four gathers and memory grows like
levels**2 * B * H * W * C, never with the number of rois.
"""

import tensorflow as tf

from model_export.layers.roi_bins import bin_edges, floor_log2


def _doubling_levels(x: tf.Tensor, axis: int, levels: tf.Tensor) -> tf.Tensor:
    """Stack of range maxima over windows of 2**k along `axis`, k < levels."""
    size = tf.shape(x, out_type=tf.int64)[axis]

    def step(k: tf.Tensor, current: tf.Tensor, stack: tf.TensorArray) -> tuple:
        stack = stack.write(tf.cast(k, tf.int32), current)
        shift = tf.minimum(tf.bitwise.left_shift(tf.constant(1, tf.int64), k), size)
        ahead = tf.gather(current, tf.range(shift, size), axis=axis)
        pad = [[0, 0]] * 4
        pad[axis] = [0, shift]
        # Cells past the end are never read: a window query stays inside the map.
        ahead = tf.pad(ahead, tf.cast(pad, tf.int64))
        return k + 1, tf.maximum(current, ahead), stack

    stack = tf.TensorArray(x.dtype, size=tf.cast(levels, tf.int32), infer_shape=False)
    _, _, stack = tf.while_loop(
        lambda k, *_: k < levels, step, (tf.constant(0, tf.int64), x, stack)
    )
    return stack.stack()


def range_max_table(features: tf.Tensor, levels_h: tf.Tensor, levels_w: tf.Tensor) -> tf.Tensor:
    """(levels_h, levels_w, B, H, W, C) table of window maxima of (B, H, W, C) features."""
    along_h = _doubling_levels(features, 1, levels_h)  # (Lh, B, H, W, C)
    return tf.map_fn(
        lambda level: _doubling_levels(level, 2, levels_w),
        along_h,
        fn_output_signature=tf.TensorSpec(None, features.dtype),
    )


def roi_max_pool(
    features: tf.Tensor, rois: tf.Tensor, pooled_size: tuple[int, int], spatial_scale: float
) -> tf.Tensor:
    """Caffe RoI max pooling: (B, H, W, C) and (R, 5) rois -> (R, PH, PW, C)."""
    ph, pw = pooled_size
    shape = tf.shape(features, out_type=tf.int64)
    batch, height, width = shape[0], shape[1], shape[2]
    rois = tf.cast(rois, tf.float32)
    image = tf.cast(rois[:, 0], tf.int64)
    h0, h1 = bin_edges(rois[:, 2], rois[:, 4], ph, spatial_scale, height)  # (R, PH)
    w0, w1 = bin_edges(rois[:, 1], rois[:, 3], pw, spatial_scale, width)  # (R, PW)
    kh = floor_log2(tf.maximum(h1 - h0, 1))
    kw = floor_log2(tf.maximum(w1 - w0, 1))
    levels_h = tf.reduce_max(tf.concat([tf.reshape(kh, [-1]), [0]], axis=0)) + 1
    levels_w = tf.reduce_max(tf.concat([tf.reshape(kw, [-1]), [0]], axis=0)) + 1
    table = range_max_table(features, levels_h, levels_w)
    rows = tf.reshape(table, [-1, shape[3]])

    def corner(level_h: tf.Tensor, level_w: tf.Tensor, y: tf.Tensor, x: tf.Tensor) -> tf.Tensor:
        index = (level_h * levels_w + level_w) * batch + image[:, None, None]
        # Empty bins read a clamped cell; their result is replaced by zero below.
        y = tf.clip_by_value(y, 0, height - 1)
        index = (index * height + y) * width + tf.clip_by_value(x, 0, width - 1)
        return tf.gather(rows, index)  # (R, PH, PW, C)

    y_far = h1 - tf.bitwise.left_shift(tf.constant(1, tf.int64), kh)
    x_far = w1 - tf.bitwise.left_shift(tf.constant(1, tf.int64), kw)
    kh, h0, y_far = kh[:, :, None], h0[:, :, None], y_far[:, :, None]
    kw, w0, x_far = kw[:, None, :], w0[:, None, :], x_far[:, None, :]
    pooled = tf.reduce_max(
        tf.stack(
            [
                corner(kh, kw, h0, w0),
                corner(kh, kw, h0, x_far),
                corner(kh, kw, y_far, w0),
                corner(kh, kw, y_far, x_far),
            ]
        ),
        axis=0,
    )
    empty = (h1 <= h0[:, :, 0])[:, :, None] | (w1 <= w0[:, 0, :])[:, None, :]
    return tf.where(empty[..., None], tf.zeros_like(pooled), pooled)
