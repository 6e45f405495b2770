"""Two lowerings of RoI max pooling to standard ONNX ops, both returning (R, PH, PW, C).

`max_roi_pool`: the ONNX MaxRoiPool op (onnxruntime has a CPU kernel only).
`decomposed_roi_pool`: the range-max table of `model_export.layers.roi_ops` built from
Slice / Pad / Max and read with Gather, so it runs on onnxruntime's CUDA provider; its
memory is levels**2 * B * H * W * C, independent of the number of rois. The levels are
fixed at export to cover rois up to a stated size (the service clips boxes to the image);
a bin of a larger roi comes out NaN rather than silently wrong. Bin edges use float64
arithmetic rounded to float32 exactly as `model_export.layers.roi_bins` explains.

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


def _float32_in_double(g: Graph, x: str) -> str:
    return g.cast(g.cast(x, FLOAT), DOUBLE)


def _bin_edges(g: Graph, start: str, end: str, pooled: int, scale: float, limit: str) -> tuple:
    """(R,) float32 coordinates -> two (R, P) int64 tensors of clamped bin edges."""
    scale64 = g.const(np.float64(np.float32(scale)))

    def scaled_rounded(coord: str) -> str:
        v = _float32_in_double(g, g.op("Mul", g.cast(coord, DOUBLE), scale64))
        half_up = g.op("Floor", g.op("Add", g.op("Abs", v), g.const(np.float64(0.5))))
        return g.op("Mul", g.op("Sign", v), half_up)

    first, last = scaled_rounded(start), scaled_rounded(end)
    one = g.const(np.float64(1.0))
    length = g.op("Max", g.op("Add", g.op("Sub", last, first), one), one)
    bin_size = _float32_in_double(g, g.op("Div", length, g.const(np.float64(pooled))))
    steps = g.const(np.arange(pooled + 1, dtype=np.float64)[None, :])
    offsets = _float32_in_double(g, g.op("Mul", g.unsqueeze(bin_size, 1), steps))
    first_col = g.unsqueeze(first, 1)
    lower = g.op("Add", g.op("Floor", g.slice(offsets, 0, pooled, 1)), first_col)
    upper = g.op("Add", g.op("Ceil", g.slice(offsets, 1, pooled + 1, 1)), first_col)
    zero, limit64 = g.const(np.float64(0.0)), g.cast(limit, DOUBLE)

    def clamp(x: str) -> str:
        return g.cast(g.op("Min", g.op("Max", x, zero), limit64), INT64)

    return clamp(lower), clamp(upper)


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
    g: Graph, nchw: str, rois: str, pooled: tuple[int, int], scale: float, levels: int
) -> str:
    ph, pw = pooled
    nhwc = g.op("Transpose", caffe_visible(g, nchw), perm=[0, 2, 3, 1])
    shape = g.op("Shape", nhwc)
    batch, height, width = (g.dim(shape, axis) for axis in range(3))
    columns = [g.op("Squeeze", g.slice(rois, k, k + 1, 1), g.i64(1)) for k in range(5)]
    image = g.cast(columns[0], INT64)
    h0, h1 = _bin_edges(g, columns[2], columns[4], ph, scale, height)  # (R, PH)
    w0, w1 = _bin_edges(g, columns[1], columns[3], pw, scale, width)  # (R, PW)
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
        column(g.op("Greater", kh_needed, top_level)),
        across(g.op("Greater", kw_needed, top_level)),
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
        levels = table_levels(max_roi_cells, max(pooled))
        out = decomposed_roi_pool(g, "features", "rois", pooled, scale, levels)
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
