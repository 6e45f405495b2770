"""Two lowerings of RoI max pooling to standard ONNX ops, both returning (R, PH, PW, C).

`max_roi_pool`: the ONNX MaxRoiPool op (onnxruntime has a CPU kernel only).
`decomposed_roi_pool`: the range-max table of `model_export.layers.roi_ops` built from
Slice / Pad / Max and read with Gather, so it runs on onnxruntime's CUDA provider; its
memory is levels**2 * B * H * W * C, independent of the number of rois. The levels are
fixed at export to cover rois up to a stated size (the service clips boxes to the image);
a bin of a larger roi comes out NaN rather than silently wrong. Bin edges come from integer
tables of every roi length, computed at export in Caffe's float32 arithmetic (`offset_tables`).

Both lowerings first map NaN and -inf to -FLT_MAX, the value Caffe's and torchvision's scan
starts from: NaN then never wins a bin and a bin of only -inf or NaN gives -FLT_MAX, in both.
(onnxruntime's MaxRoiPool alone gives -FLT_MAX for -inf, but lets a NaN win or lose by its
place in the scan; a Max over the table alone would give -inf.)
"""

import math

import numpy as np
import onnx
from onnx import helper

from model_export.onnx_export.graph import DOUBLE, FLOAT, INT64, IR_VERSION, OPSET, Graph


def max_roi_cells(max_image_side: int, scale: float) -> int:
    """Feature cells on the longest side of an image the service may feed."""
    return max(1, math.ceil(max_image_side * scale))


def table_levels(max_roi_cells: int, pooled: int) -> int:
    """Levels whose windows cover every bin of a roi at most max_roi_cells on a side."""
    longest_bin = math.ceil(max_roi_cells / pooled) + 1
    return math.floor(math.log2(longest_bin)) + 1


def caffe_visible(g: Graph, x: str) -> str:
    """NaN and everything below it mapped to -FLT_MAX, the start of Caffe's `x > maxval` scan."""
    lowest = g.const(np.float32(np.finfo(np.float32).min))
    return g.op("Where", g.op("IsNaN", x), lowest, g.op("Max", x, lowest))


def max_roi_pool(g: Graph, nchw: str, rois: str, pooled: tuple[int, int], scale: float) -> str:
    visible = caffe_visible(g, nchw)
    pooled_nchw = g.op("MaxRoiPool", visible, rois, pooled_shape=list(pooled), spatial_scale=scale)
    return g.op("Transpose", pooled_nchw, perm=[0, 2, 3, 1])


def offset_tables(max_cells: int, pooled: int) -> tuple[np.ndarray, np.ndarray]:
    """(max_cells + 1, pooled) int64 bin starts and ends, relative to the roi's first cell,
    for every roi length: Caffe's float32 arithmetic done here, in NumPy, once.

    Row L holds floor(p * bin) and ceil((p + 1) * bin) with bin = float32(L) / pooled, each
    product rounded to float32 as the reference does (row 0 is never read: lengths are >= 1).
    """
    lengths = np.arange(max_cells + 1, dtype=np.float32)[:, None]
    bins = lengths / np.float32(pooled)  # float32 division, correctly rounded
    steps = np.arange(pooled + 1, dtype=np.float32)[None, :]
    offsets = steps * bins  # (L, P + 1) float32 products
    return np.floor(offsets[:, :-1]).astype(np.int64), np.ceil(offsets[:, 1:]).astype(np.int64)


def _scaled_rounded(g: Graph, coord: str, scale: float) -> str:
    """C's round(coord * scale) as int64: the float32 product (one op, nothing to fold),
    then halves away from zero, exactly, in float64."""
    product = g.cast(g.op("Mul", coord, g.const(np.float32(scale))), DOUBLE)
    half_up = g.op("Floor", g.op("Add", g.op("Abs", product), g.const(np.float64(0.5))))
    return g.cast(g.op("Mul", g.op("Sign", product), half_up), INT64)


def bin_edges(
    g: Graph, start: str, end: str, pooled: int, scale: float, limit: str, max_cells: int
) -> tuple[str, str, str]:
    """(R,) float32 roi coordinates -> two (R, P) int64 tensors of clamped bin edges, and
    (R,) bool: the roi is longer than the tables' `max_cells`.

    Every float32 step of Caffe's bin arithmetic lives in the integer tables of
    `offset_tables`: no graph optimizer (tf2onnx drops float32 round trips such as
    Cast(float) -> Cast(double)) can move a bin edge.
    """
    first, last = _scaled_rounded(g, start, scale), _scaled_rounded(g, end, scale)
    one = g.const(np.int64(1))
    length = g.op("Max", g.op("Add", g.op("Sub", last, first), one), one)  # (R,)
    too_long = g.op("Greater", length, g.const(np.int64(max_cells)))
    row = g.op("Min", length, g.const(np.int64(max_cells)))
    lower_table, upper_table = offset_tables(max_cells, pooled)
    first_col = g.unsqueeze(first, 1)
    zero = g.const(np.int64(0))

    def edge(table: np.ndarray) -> str:
        shifted = g.op("Add", g.op("Gather", g.const(table), row), first_col)  # (R, P)
        return g.op("Min", g.op("Max", shifted, zero), limit)

    return edge(lower_table), edge(upper_table), too_long


def _floor_log2_capped(g: Graph, length: str, cap: int) -> str:
    """min(floor(log2(length)), cap) as a sum of exact comparisons.

    (A ReduceSum would be shorter, but onnxruntime returns an empty input unreduced.)
    """
    level = g.cast(g.op("GreaterOrEqual", length, g.const(np.int64(2))), INT64)
    for k in range(2, cap + 1):
        above = g.op("GreaterOrEqual", length, g.const(np.int64(2**k)))
        level = g.op("Add", level, g.cast(above, INT64))
    return level


def _shifted(g: Graph, x: str, shift: int, axis: int) -> str:
    """x moved `shift` cells towards the origin along `axis`, zero-filled at the end."""
    pads = [0] * 8
    pads[4 + axis] = shift
    padded = g.op("Pad", x, g.i64(*pads))
    return g.slice(padded, shift, 2**62, axis)


def _range_max_rows(g: Graph, nhwc: str, levels_h: int, levels_w: int) -> str:
    """(levels_h * levels_w * B * H * W, C): level (i, j) = max over 2**i x 2**j windows."""
    tables, row = [], nhwc
    for i in range(levels_h):
        if i:
            row = g.op("Max", row, _shifted(g, row, 2 ** (i - 1), 1))
        cell = row
        for j in range(levels_w):
            if j:
                cell = g.op("Max", cell, _shifted(g, cell, 2 ** (j - 1), 2))
            tables.append(g.unsqueeze(cell, 0))
    stacked = g.op("Concat", *tables, axis=0)
    channels = g.slice(g.op("Shape", nhwc), 3, 4, 0)
    return g.op("Reshape", stacked, g.op("Concat", g.i64(-1), channels, axis=0))


def decomposed_roi_pool(
    g: Graph, nchw: str, rois: str, pooled: tuple[int, int], scale: float, max_roi_cells: int
) -> str:
    """Exact for rois up to `max_roi_cells` + 1 feature cells on a side; NaN beyond."""
    ph, pw = pooled
    max_cells = max_roi_cells + 1  # an inclusive end rounded up adds a cell
    levels = table_levels(max_cells, min(pooled))  # the axis of fewest bins has the longest
    nhwc = g.op("Transpose", caffe_visible(g, nchw), perm=[0, 2, 3, 1])
    shape = g.op("Shape", nhwc)
    batch, height, width = (g.dim(shape, axis) for axis in range(3))
    columns = [g.op("Squeeze", g.slice(rois, k, k + 1, 1), g.i64(1)) for k in range(5)]
    image = g.cast(columns[0], INT64)
    h0, h1, tall = bin_edges(g, columns[2], columns[4], ph, scale, height, max_cells)  # (R, PH)
    w0, w1, wide = bin_edges(g, columns[1], columns[3], pw, scale, width, max_cells)  # (R, PW)
    one = g.const(np.int64(1))
    top_level = g.const(np.int64(levels - 1))
    # Capped at `levels`: anything above levels - 1 is beyond the table's cover.
    kh_needed = _floor_log2_capped(g, g.op("Max", g.op("Sub", h1, h0), one), levels)
    kw_needed = _floor_log2_capped(g, g.op("Max", g.op("Sub", w1, w0), one), levels)
    kh, kw = g.op("Min", kh_needed, top_level), g.op("Min", kw_needed, top_level)
    powers = g.const(np.array([2**k for k in range(levels)], np.int64))
    y_far = g.op("Sub", h1, g.op("Gather", powers, kh))
    x_far = g.op("Sub", w1, g.op("Gather", powers, kw))
    rows = _range_max_rows(g, nhwc, levels, levels)

    def column(x: str) -> str:  # (R, P) -> (R, P, 1)
        return g.unsqueeze(x, 2)

    def across(x: str) -> str:  # (R, P) -> (R, 1, P)
        return g.unsqueeze(x, 1)

    zero = g.const(np.int64(0))
    last_row, last_col = g.op("Sub", height, one), g.op("Sub", width, one)
    level = g.op("Add", g.op("Mul", column(kh), g.const(np.int64(levels))), across(kw))
    plane = g.op("Add", g.op("Mul", level, batch), g.unsqueeze(image, 1, 2))

    def corner(y: str, x: str) -> str:
        y = g.op("Min", g.op("Max", column(y), zero), last_row)
        x = g.op("Min", g.op("Max", across(x), zero), last_col)
        index = g.op("Add", g.op("Mul", g.op("Add", g.op("Mul", plane, height), y), width), x)
        return g.op("Gather", rows, index)  # (R, PH, PW, C)

    pooled_max = g.op(
        "Max", corner(h0, w0), corner(h0, x_far), corner(y_far, w0), corner(y_far, x_far)
    )
    empty = g.op("Or", column(g.op("LessOrEqual", h1, h0)), across(g.op("LessOrEqual", w1, w0)))
    pooled_max = g.op("Where", g.unsqueeze(empty, 3), g.const(np.float32(0.0)), pooled_max)
    uncovered = g.op(
        "Or",
        column(g.op("Or", g.op("Greater", kh_needed, top_level), g.unsqueeze(tall, 1))),
        across(g.op("Or", g.op("Greater", kw_needed, top_level), g.unsqueeze(wide, 1))),
    )
    return g.op("Where", g.unsqueeze(uncovered, 3), g.const(np.float32(np.nan)), pooled_max)


def roi_pool_model(
    lowering: str, pooled: tuple[int, int], scale: float, max_roi_cells: int
) -> onnx.ModelProto:
    """A graph of RoI pooling alone: features (B, C, H, W), rois (R, 5) -> (R, PH, PW, C)."""
    g = Graph()
    if lowering == "maxroipool":
        out = max_roi_pool(g, "features", "rois", pooled, scale)
    else:
        out = decomposed_roi_pool(g, "features", "rois", pooled, scale, max_roi_cells)
    g.op("Identity", out, name="pooled")
    graph = helper.make_graph(
        g.nodes,
        f"roi_pool_{lowering}",
        [
            helper.make_tensor_value_info("features", FLOAT, ["B", "C", "H", "W"]),
            helper.make_tensor_value_info("rois", FLOAT, ["R", 5]),
        ],
        [helper.make_tensor_value_info("pooled", FLOAT, ["R", pooled[0], pooled[1], "C"])],
        g.initializers,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    proto.ir_version = IR_VERSION
    return proto
