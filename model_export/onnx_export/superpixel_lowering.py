"""Superpixel pooling lowered to ScatterND with a reduction (CUDA has kernels for it).

ScatterND adds (or maxes) whole C-channel rows per pixel: no Unique, no one-hot, no index
tensor as large as the features; memory is (B * S + 1) * C plus the input.
"""

import numpy as np
import onnx
from onnx import helper

from model_export.onnx_export.graph import FLOAT, INT64, IR_VERSION, OPSET, Graph

LOWEST_FLOAT32 = float(np.finfo(np.float32).min)


def superpixel_pool(g: Graph, nhwc: str, superpixels: str, mode: str) -> str:
    """(B, H, W, C) features and (B, H, W) ids -> (B, S, C), S = 1 + max id."""
    shape = g.op("Shape", nhwc)
    batch, channels = g.dim(shape, 0), g.dim(shape, 3)
    ids = g.cast(superpixels, INT64)
    flat_ids = g.op("Reshape", ids, g.i64(-1))
    largest = g.op("ReduceMax", g.op("Concat", flat_ids, g.i64(-1), axis=0), keepdims=0)
    count = g.op("Add", largest, g.const(np.int64(1)))  # S >= 0
    zero, one = g.const(np.int64(0)), g.const(np.int64(1))
    image = g.op("Reshape", g.op("Range", zero, batch, one), g.i64(-1, 1, 1))
    segment = g.op("Reshape", g.op("Add", g.op("Mul", image, count), ids), g.i64(-1))
    values = g.op("Reshape", nhwc, g.op("Concat", g.i64(-1), g.unsqueeze(channels, 0), axis=0))
    # Ignored pixels are dropped first, so a map of -1 (boxes only) costs nothing.
    kept = g.op("GreaterOrEqual", flat_ids, zero)
    segment = g.op("Compress", segment, kept, axis=0)
    values = g.op("Compress", values, kept, axis=0)

    segments = g.unsqueeze(g.op("Mul", batch, count), 0)
    ones = g.op("ConstantOfShape", g.op("Shape", segment), value=_scalar(1.0))
    empty = g.op("ConstantOfShape", segments, value=_scalar(0.0))
    members = g.op("ScatterElements", empty, segment, ones, axis=0, reduction="add")
    members = g.unsqueeze(members, 1)
    table_shape = g.op("Concat", segments, g.unsqueeze(channels, 0), axis=0)
    indices = g.op("Expand", g.unsqueeze(segment, 1), g.op("Shape", values))
    if mode == "average":
        zeros = g.op("ConstantOfShape", table_shape, value=_scalar(0.0))
        total = g.op("ScatterElements", zeros, indices, values, axis=0, reduction="add")
        pooled = g.op("Div", total, g.op("Max", members, g.const(np.float32(1.0))))
    else:
        lowest = g.op("ConstantOfShape", table_shape, value=_scalar(LOWEST_FLOAT32))
        pooled = g.op("ScatterElements", lowest, indices, values, axis=0, reduction="max")
        filled = g.op("Greater", members, g.const(np.float32(0.0)))
        pooled = g.op("Where", filled, pooled, g.const(np.float32(0.0)))
    out_shape = g.op(
        "Concat", g.unsqueeze(batch, 0), g.unsqueeze(count, 0), g.unsqueeze(channels, 0), axis=0
    )
    return g.op("Reshape", pooled, out_shape, allowzero=1)  # S may be 0


def _scalar(value: float) -> onnx.TensorProto:
    return helper.make_tensor("value", FLOAT, [1], [value])


def superpixel_model(mode: str) -> onnx.ModelProto:
    """A graph of superpixel pooling alone: features (B, H, W, C), ids (B, H, W) -> (B, S, C)."""
    g = Graph()
    g.op("Identity", superpixel_pool(g, "features", "superpixels", mode), name="pooled")
    graph = helper.make_graph(
        g.nodes,
        f"superpixel_pool_{mode}",
        [
            helper.make_tensor_value_info("features", FLOAT, ["B", "H", "W", "C"]),
            helper.make_tensor_value_info("superpixels", onnx.TensorProto.INT32, ["B", "H", "W"]),
        ],
        [helper.make_tensor_value_info("pooled", FLOAT, ["B", "S", "C"])],
        g.initializers,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    proto.ir_version = IR_VERSION
    return proto
