"""Superpixel pooling lowered to ScatterElements with a reduction (CUDA has kernels for it).

Scattering costs onnxruntime ~16 ns per value on the CPU, so as few values as possible are
scattered. Superpixels are compact: most T x T tiles of the map hold one superpixel (and
ignored pixels). Such a tile is reduced in place first (ReduceSum / ReduceMax over the tile,
one pass over the features) and scattered as one row; only the pixels of tiles that straddle
a border are scattered one by one. Rows go into a flat (B * S * C) table, one index per value:
no Unique, no one-hot, linear in pixels. ScatterND would move whole C-channel rows, but
onnxruntime's CPU kernel splits repeated indices across threads and loses updates.
"""

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper

from model_export.onnx_export.graph import FLOAT, INT64, IR_VERSION, OPSET, Graph

LOWEST_FLOAT32 = float(np.finfo(np.float32).min)
TILE = 4  # pixels per tile side: 16x fewer rows to scatter where a tile is one superpixel


def superpixel_pool(g: Graph, nhwc: str, superpixels: str, mode: str) -> str:
    """(B, H, W, C) features and (B, H, W) ids -> (B, S, C), S = 1 + max id."""
    shape = g.op("Shape", nhwc)
    batch, channels = g.dim(shape, 0), g.dim(shape, 3)
    ids = g.cast(superpixels, INT64)
    flat_ids = g.op("Reshape", ids, g.i64(-1))
    largest = g.op("ReduceMax", g.op("Concat", flat_ids, g.i64(-1), axis=0), keepdims=0)
    count = g.op("Add", largest, g.const(np.int64(1)))  # S >= 0
    image = g.op("Range", g.const(np.int64(0)), batch, g.const(np.int64(1)))
    offset = g.op("Reshape", g.op("Mul", image, count), g.i64(-1, 1, 1))  # b * S
    features, ids = _neutral_and_padded(g, nhwc, ids, shape, mode)
    tiles = _tiles(g, features, ids, channels, mode)
    alone = g.op("And", _kept(g, ids), g.op("Not", _per_pixel(g, tiles.single, ids)))
    flat_alone = g.op("Reshape", alone, g.i64(-1))
    alone_rows = g.op("Compress", _rows(g, features, channels), flat_alone, axis=0)
    alone_ids = _compress(g, g.op("Add", ids, offset), alone)
    segment = g.op(
        "Concat", _compress(g, g.op("Add", tiles.ids, offset), tiles.single), alone_ids, axis=0
    )
    rows = g.op("Concat", tiles.rows, alone_rows, axis=0)
    ones = g.op("ConstantOfShape", g.op("Shape", alone_ids), value=_scalar(1.0))
    members = g.op("Concat", tiles.members, ones, axis=0)
    pooled = _pool_segments(g, segment, rows, members, g.op("Mul", batch, count), channels, mode)
    out_shape = g.op(
        "Concat", g.unsqueeze(batch, 0), g.unsqueeze(count, 0), g.unsqueeze(channels, 0), axis=0
    )
    return g.op("Reshape", pooled, out_shape, allowzero=1)  # S may be 0


@dataclass(frozen=True)
class _Tiles:
    ids: str  # (B, Ht, Wt): the superpixel of each tile that holds one
    single: str  # (B, Ht, Wt): whether the tile's kept pixels are all of one superpixel
    rows: str  # (N, C): those tiles' pooled features
    members: str  # (N,): their kept pixel counts


def _neutral_and_padded(g: Graph, nhwc: str, ids: str, shape: str, mode: str) -> tuple[str, str]:
    """Features with ignored pixels neutral (0, or the lowest float for max) and ids, both
    padded with ignored pixels to whole tiles. A 0/1 mask multiplies ~4x faster than Where on
    the CPU; where an ignored pixel holds inf or NaN the product is NaN, and `_tiles` sends
    such tiles to the exact per-pixel path."""
    neutral = g.const(np.float32(0.0 if mode == "average" else LOWEST_FLOAT32))
    mask = g.cast(g.unsqueeze(_kept(g, ids), 3), FLOAT)  # (B, H, W, 1)
    features = g.op("Mul", nhwc, mask)
    if mode == "max":  # ignored pixels: 0 + lowest; kept ones: f + (-0)
        features = g.op(
            "Add", features, g.op("Mul", g.op("Sub", g.const(np.float32(1.0)), mask), neutral)
        )
    tile = g.const(np.int64(TILE))
    pad = g.op("Mod", g.op("Sub", tile, g.op("Mod", g.slice(shape, 1, 3, 0), tile)), tile)
    ids_pads = g.op("Concat", g.i64(0, 0, 0, 0), pad, axis=0)  # begins of (B, H, W), ends
    feature_pads = g.op("Concat", g.i64(0, 0, 0, 0, 0), pad, g.i64(0), axis=0)
    padded_ids = g.op("Pad", ids, ids_pads, g.const(np.int64(-1)))
    return g.op("Pad", features, feature_pads, neutral), padded_ids


def _tiles(g: Graph, features: str, ids: str, channels: str, mode: str) -> _Tiles:
    tiled_shape = _tiled_shape(g, ids)
    tiled_ids = g.op("Reshape", ids, tiled_shape)  # (B, Ht, T, Wt, T)
    tiled = g.op("Reshape", features, g.op("Concat", tiled_shape, g.unsqueeze(channels, 0), axis=0))
    kept = _kept(g, tiled_ids)
    big = g.const(np.int64(np.iinfo(np.int64).max))
    lowest = g.op("ReduceMin", g.op("Where", kept, tiled_ids, big), g.i64(2, 4), keepdims=0)
    highest = g.op("ReduceMax", tiled_ids, g.i64(2, 4), keepdims=0)  # (B, Ht, Wt)
    pooled = g.op("ReduceSum" if mode == "average" else "ReduceMax", tiled, g.i64(2, 4), keepdims=0)
    # One superpixel (never so when all pixels are ignored), and no NaN from the mask: a
    # tile that is not exact here goes pixel by pixel, which always is.
    masked_nan = g.op("IsNaN", g.op("ReduceSum", pooled, g.i64(3), keepdims=0))
    single = g.op("And", g.op("Equal", lowest, highest), g.op("Not", masked_nan))
    flat_single = g.op("Reshape", single, g.i64(-1))
    members = g.op("ReduceSum", g.cast(kept, FLOAT), g.i64(2, 4), keepdims=0)
    return _Tiles(
        highest,
        single,
        g.op("Compress", _rows(g, pooled, channels), flat_single, axis=0),
        _compress(g, members, single),
    )


def _tiled_shape(g: Graph, ids: str) -> str:
    """(B, H, W) -> the shape (B, H / T, T, W / T, T)."""
    shape = g.op("Shape", ids)
    coarse = g.op("Div", g.slice(shape, 1, 3, 0), g.i64(TILE, TILE))
    tile = g.i64(TILE)
    rows, cols = g.slice(coarse, 0, 1, 0), g.slice(coarse, 1, 2, 0)
    return g.op("Concat", g.slice(shape, 0, 1, 0), rows, tile, cols, tile, axis=0)


def _per_pixel(g: Graph, per_tile: str, ids: str) -> str:
    """(B, Ht, Wt) -> (B, H, W): each pixel gets its tile's value."""
    spread = g.op("Unsqueeze", per_tile, g.i64(2, 4))  # (B, Ht, 1, Wt, 1)
    return g.op("Reshape", g.op("Expand", spread, _tiled_shape(g, ids)), g.op("Shape", ids))


def _kept(g: Graph, ids: str) -> str:
    return g.op("GreaterOrEqual", ids, g.const(np.int64(0)))


def _rows(g: Graph, x: str, channels: str) -> str:
    """(..., C) -> (N, C)."""
    return g.op("Reshape", x, g.op("Concat", g.i64(-1), g.unsqueeze(channels, 0), axis=0))


def _compress(g: Graph, x: str, keep: str) -> str:
    """The entries of `x` where `keep`, flattened."""
    flat = g.op("Reshape", x, g.i64(-1))
    return g.op("Compress", flat, g.op("Reshape", keep, g.i64(-1)), axis=0)


def _pool_segments(
    g: Graph, segment: str, rows: str, weights: str, segments: str, channels: str, mode: str
) -> str:
    """(P,) segment ids, (P, C) rows holding `weights` pixels each -> (segments, C) means or
    maxima, 0 where empty."""
    segments = g.unsqueeze(segments, 0)
    empty = g.op("ConstantOfShape", segments, value=_scalar(0.0))
    members = g.op("ScatterElements", empty, segment, weights, axis=0, reduction="add")
    members = g.unsqueeze(members, 1)
    channel = g.op("Range", g.const(np.int64(0)), channels, g.const(np.int64(1)))
    cell = g.op("Add", g.op("Mul", g.unsqueeze(segment, 1), channels), channel)  # (P, C)
    cell, flat_values = g.op("Reshape", cell, g.i64(-1)), g.op("Reshape", rows, g.i64(-1))
    cells = g.op("Mul", segments, g.unsqueeze(channels, 0))
    start = _scalar(0.0 if mode == "average" else LOWEST_FLOAT32)
    reduction = "add" if mode == "average" else "max"
    table = g.op("ConstantOfShape", cells, value=start)
    table = g.op("ScatterElements", table, cell, flat_values, axis=0, reduction=reduction)
    table = g.op("Reshape", table, g.op("Concat", segments, g.unsqueeze(channels, 0), axis=0))
    if mode == "average":
        return g.op("Div", table, g.op("Max", members, g.const(np.float32(1.0))))
    filled = g.op("Greater", members, g.const(np.float32(0.0)))
    return g.op("Where", filled, table, g.const(np.float32(0.0)))


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
