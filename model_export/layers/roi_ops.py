"""Vectorised Fast R-CNN RoI max pooling on a sparse range-max table.

For a feature map F, level (i, j) of the table holds the max of F over the
2**i x 2**j window starting at each cell. Any bin [h0, h1) x [w0, w1) is the max
of four overlapping windows of size 2**floor(log2(h1 - h0)) x 2**floor(log2(w1 - w0))
anchored at its corners, so each bin costs four gathers and memory grows like
levels**2 * B * H * W * C, never with the number of rois.

The table also carries where each window's maximum lies, so the gradient is Caffe's:
each pooled value's gradient goes to the one cell it came from. Differentiating the
table itself instead would scatter into all levels**2 maps and cost twice the forward.
Inference never pays for the cells: training builds them in the forward pass (one table for
both passes), any other gradient recomputes the table with them.

Non-finite features pool as in Caffe, torchvision and onnxruntime, whose scan starts from
-FLT_MAX and keeps a value only when it is greater: NaN never wins, and a bin holding only -inf
or NaN gives the lowest finite value (a bin with any +inf gives +inf).
"""

import tensorflow as tf

from model_export.layers.roi_bins import bin_edges, floor_log2

# A table is (window maxima,) or (window maxima, flat cell y * W + x of each maximum).
Table = tuple[tf.Tensor, ...]


def caffe_visible(features: tf.Tensor) -> tf.Tensor:
    """Features as Caffe's `if (x > maxval)` scan from the lowest finite value sees them."""
    lowest = tf.constant(features.dtype.min, features.dtype)
    return tf.where(tf.math.is_nan(features), lowest, tf.maximum(features, lowest))


def _doubling_levels(table: Table, axis: int, levels: tf.Tensor) -> Table:
    """Stacks of range maxima (and their cells) over windows of 2**k along `axis`, k < levels."""
    size = tf.shape(table[0], out_type=tf.int64)[axis]

    def step(k: tf.Tensor, current: Table, stacks: tuple) -> tuple:
        stacks = tuple(
            s.write(tf.cast(k, tf.int32), c) for s, c in zip(stacks, current, strict=True)
        )
        shift = tf.minimum(tf.bitwise.left_shift(tf.constant(1, tf.int64), k), size)
        begin = tf.one_hot(axis, 4, on_value=shift, dtype=tf.int64)
        # Cells past the end are never read: a window query stays inside the map.
        pad = tf.stack([tf.zeros_like(begin), begin], axis=1)
        ahead = [tf.pad(tf.slice(c, begin, [-1] * 4), pad) for c in current]
        for a, c in zip(ahead, current, strict=True):
            a.set_shape(c.shape)  # the pad restores the size; a while_loop needs it static
        if len(current) == 1:  # maxima only: one pass, no cells to carry
            return k + 1, (tf.maximum(current[0], ahead[0]),), stacks
        # Ties keep the row-major first cell (the smaller flat index), as Caffe's scan does.
        tie = (ahead[0] == current[0]) & (ahead[1] < current[1])
        later_wins = (ahead[0] > current[0]) | tie
        merged = tuple(tf.where(later_wins, a, c) for a, c in zip(ahead, current, strict=True))
        return k + 1, merged, stacks

    stacks = tuple(
        tf.TensorArray(t.dtype, size=tf.cast(levels, tf.int32), infer_shape=False) for t in table
    )
    _, _, stacks = tf.while_loop(
        lambda k, *_: k < levels, step, (tf.constant(0, tf.int64), table, stacks)
    )
    return tuple(s.stack() for s in stacks)


def range_max_table(
    features: tf.Tensor, levels_h: tf.Tensor, levels_w: tf.Tensor, with_cells: bool
) -> Table:
    """(levels_h, levels_w, B, H, W, C) window maxima of (B, H, W, C) features, and their
    cells when `with_cells`."""
    table: Table = (features,)
    if with_cells:
        shape = tf.shape(features)
        cells = tf.reshape(tf.range(shape[1] * shape[2]), [1, shape[1], shape[2], 1])
        table = (features, tf.broadcast_to(cells, shape))
    along_h = _doubling_levels(table, 1, levels_h)
    signature = tuple(tf.TensorSpec(None, t.dtype) for t in table)
    return tf.map_fn(
        lambda level: _doubling_levels(level, 2, levels_w), along_h, fn_output_signature=signature
    )


def _pool(
    features: tf.Tensor,
    rois: tf.Tensor,
    pooled_size: tuple[int, int],
    spatial_scale: float,
    with_cells: bool,
) -> tuple[tf.Tensor, tf.Tensor | None]:
    """Pooled (R, PH, PW, C) values (0 in empty bins), and when `with_cells` the flat cell each
    came from (-1 in empty bins)."""
    ph, pw = pooled_size
    features = caffe_visible(features)
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
    table = range_max_table(features, levels_h, levels_w, with_cells)
    rows = [tf.reshape(t, [-1, shape[3]]) for t in table]

    def corner(level_h: tf.Tensor, level_w: tf.Tensor, y: tf.Tensor, x: tf.Tensor) -> tf.Tensor:
        index = (level_h * levels_w + level_w) * batch + image[:, None, None]
        # Empty bins read a clamped cell; their result is replaced below.
        y = tf.clip_by_value(y, 0, height - 1)
        return (index * height + y) * width + tf.clip_by_value(x, 0, width - 1)  # (R, PH, PW)

    y_far = h1 - tf.bitwise.left_shift(tf.constant(1, tf.int64), kh)
    x_far = w1 - tf.bitwise.left_shift(tf.constant(1, tf.int64), kw)
    kh, h0, y_far = kh[:, :, None], h0[:, :, None], y_far[:, :, None]
    kw, w0, x_far = kw[:, None, :], w0[:, None, :], x_far[:, None, :]
    corners = tf.stack(
        [
            corner(kh, kw, h0, w0),
            corner(kh, kw, h0, x_far),
            corner(kh, kw, y_far, w0),
            corner(kh, kw, y_far, x_far),
        ]
    )  # (4, R, PH, PW)
    candidates = tf.gather(rows[0], corners)  # (4, R, PH, PW, C)
    empty = ((h1 <= h0[:, :, 0])[:, :, None] | (w1 <= w0[:, 0, :])[:, None, :])[..., None]
    pooled = tf.where(empty, tf.zeros_like(candidates[0]), tf.reduce_max(candidates, axis=0))
    if not with_cells:
        return pooled, None
    # Of the windows holding the maximum, the row-major first cell wins, as in Caffe's scan
    # (equal values are common in float16).
    holders = tf.where(candidates == pooled[None], tf.gather(rows[1], corners), tf.int32.max)
    cells = tf.reduce_min(holders, axis=0)
    # As Caffe's argmax stays -1 when no value beats -FLT_MAX, such a bin passes nothing back.
    unbeaten = pooled <= tf.constant(features.dtype.min, features.dtype)
    return pooled, tf.where(empty | unbeaten, -1, cells)


def roi_max_pool(
    features: tf.Tensor,
    rois: tf.Tensor,
    pooled_size: tuple[int, int],
    spatial_scale: float,
    training: bool = False,
) -> tf.Tensor:
    """Caffe RoI max pooling: (B, H, W, C) and (R, 5) rois -> (R, PH, PW, C); `training`:
    find each bin's cell in the forward pass, for the gradient that follows."""

    @tf.custom_gradient
    def pool(features: tf.Tensor) -> tuple[tf.Tensor, object]:
        pooled, found = _pool(features, rois, pooled_size, spatial_scale, with_cells=training)

        def gradient(upstream: tf.Tensor) -> tf.Tensor:
            cells = found
            if cells is None:
                cells = _pool(features, rois, pooled_size, spatial_scale, with_cells=True)[1]
            assert cells is not None
            shape = tf.shape(features)
            image = tf.cast(rois[:, 0], tf.int32)[:, None, None, None]
            target = (image * shape[1] * shape[2] + cells) * shape[3] + tf.range(shape[3])
            hit = cells >= 0  # empty bins pass nothing back
            wide = tf.float32 if upstream.dtype in (tf.float16, tf.bfloat16) else upstream.dtype
            flat = tf.math.unsorted_segment_sum(
                tf.cast(upstream[hit], wide), target[hit], tf.reduce_prod(shape)
            )  # 16-bit gradients are summed in float32
            return tf.cast(tf.reshape(flat, shape), upstream.dtype)

        return pooled, gradient

    return pool(features)
