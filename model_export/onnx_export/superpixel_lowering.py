"""Superpixel pooling lowered to ScatterElements with a reduction (CUDA has kernels for it).

Scattering costs onnxruntime ~8 ns per value on the CPU, so as few values as possible are
scattered. Superpixels are compact: most T x T tiles of the map hold one superpixel (and
ignored pixels), and so do many 2T x 2T blocks. Such a block, or else such a tile, is reduced
in place first and scattered as one row; only the pixels of tiles that straddle a border are
scattered one by one. Rows go into a flat (B * S * C) table, one index per value: no Unique,
no one-hot, linear in pixels. ScatterND would move whole C-channel rows, but onnxruntime's
CPU kernel splits repeated indices across threads and loses updates.

The features are read twice: once to make ignored pixels neutral (a 0/1 multiply, or adding
-inf for max), once to reduce the tiles, rows of tiles first (a reduction over the middle axis
of (B * H / T, T, W * C), which onnxruntime runs at memory speed), then the tiles' columns on a
quarter of the data; blocks are reduced from the tiles. A map whose sides are no multiples of
2T is padded first, inside an If, so a map that needs no padding is never copied.
"""

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper

from model_export.onnx_export.graph import FLOAT, INT64, IR_VERSION, OPSET, Graph

LOWEST_FLOAT32 = float(np.finfo(np.float32).min)
MARK = np.iinfo(np.int64).max - 1  # no segment: B * S is far smaller
TILE = 4  # pixels per tile side: 16x fewer rows to scatter where a tile is one superpixel
BLOCK = 2  # tiles per block side: 4x fewer again where a block is one superpixel


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
    kept = _kept(g, ids)
    segment = g.op("Where", kept, g.op("Add", ids, offset), g.const(np.int64(-1)))  # (B, H, W)
    rows = _rows(g, nhwc, channels)
    grid = _grid(g, shape)
    # A sum shows an ignored inf or NaN (0 * inf) as NaN; onnxruntime's ReduceMax may not.
    marked = segment if mode == "average" else _mark_non_finite_ignored(g, segment, kept, rows)
    tiles = _tiles(g, _neutral(g, nhwc, kept, mode), marked, grid, channels, mode)
    blocks = _blocks(g, tiles, grid, channels, mode)
    tile_alone = g.op(
        "And", tiles.single, g.op("Not", _spread(g, blocks.single, grid, TILE, BLOCK))
    )
    pixel_alone = g.op("And", kept, g.op("Not", _per_pixel(g, tiles.single, grid)))
    pixel_rows = g.op("Compress", rows, g.op("Reshape", pixel_alone, g.i64(-1)), axis=0)
    pixel_segments = _compress(g, segment, pixel_alone)
    ones = g.op("ConstantOfShape", g.op("Shape", pixel_segments), value=_scalar(1.0))
    parts = [(blocks, blocks.single), (tiles, tile_alone)]
    segments = g.op(
        "Concat", *[_compress(g, u.segment, keep) for u, keep in parts], pixel_segments, axis=0
    )
    pooled_rows = g.op(
        "Concat",
        *[g.op("Compress", u.pooled, keep, axis=0) for u, keep in parts],
        pixel_rows,
        axis=0,
    )
    members = g.op("Concat", *[_compress(g, u.members, keep) for u, keep in parts], ones, axis=0)
    pooled = _pool_segments(
        g, segments, pooled_rows, members, g.op("Mul", batch, count), channels, mode
    )
    out_shape = g.op(
        "Concat", g.unsqueeze(batch, 0), g.unsqueeze(count, 0), g.unsqueeze(channels, 0), axis=0
    )
    return g.op("Reshape", pooled, out_shape, allowzero=1)  # S may be 0


def _mark_non_finite_ignored(g: Graph, segment: str, kept: str, rows: str) -> str:
    """`segment` with MARK on the ignored pixels that hold inf or NaN, whose neutral value
    (0 * inf, inf - inf) is NaN: `_tiles` never pools their tile in place."""
    flat = g.op("Reshape", segment, g.i64(-1))
    ignored = g.op("Not", g.op("Reshape", kept, g.i64(-1)))
    pixel = g.op("Range", g.const(np.int64(0)), g.op("Size", flat), g.const(np.int64(1)))
    values = g.op("Compress", rows, ignored, axis=0)
    non_finite = g.op("IsNaN", g.op("ReduceSum", g.op("Sub", values, values), g.i64(1), keepdims=0))
    marked_pixel = g.op("Compress", g.op("Compress", pixel, ignored, axis=0), non_finite, axis=0)
    marks = g.op("Expand", g.const(np.int64(MARK)), g.op("Shape", marked_pixel))
    marked = g.op("ScatterElements", flat, marked_pixel, marks, axis=0)
    return g.op("Reshape", marked, g.op("Shape", segment))


def _neutral(g: Graph, nhwc: str, kept: str, mode: str) -> str:
    """Features where ignored pixels cannot change a tile's sum or maximum: times 0, or plus
    -inf; kept pixels times 1, or plus -0 (both exact)."""
    column = g.unsqueeze(kept, 3)  # (B, H, W, 1)
    if mode == "average":
        return g.op("Mul", nhwc, g.cast(column, FLOAT))
    penalty = g.op("Where", column, g.const(np.float32(-0.0)), g.const(np.float32(-np.inf)))
    return g.op("Add", nhwc, penalty)


@dataclass(frozen=True)
class _Grid:
    """The map padded to whole tiles: (B, Hp, Wp), Hp and Wp multiples of T."""

    shape: str  # (B, H, W, C)
    padded_shape: str  # (B, Hp, Wp)
    pads: str  # (2,): Hp - H, Wp - W
    whole: str  # bool scalar: no padding needed


def _grid(g: Graph, shape: str) -> _Grid:
    tile = g.const(np.int64(TILE * BLOCK))  # whole blocks
    sides = g.slice(shape, 1, 3, 0)
    pads = g.op("Mod", g.op("Sub", tile, g.op("Mod", sides, tile)), tile)
    padded_shape = g.op("Concat", g.slice(shape, 0, 1, 0), g.op("Add", sides, pads), axis=0)
    whole = g.op("Equal", g.op("ReduceMax", pads, keepdims=0), g.const(np.int64(0)))
    return _Grid(shape, padded_shape, pads, whole)


def _pad_map(g: Graph, map_: str, grid: _Grid, fill: int) -> str:
    """(B, H, W) int64 -> (B, Hp, Wp) with `fill` past the map, by Gather and Where (the CUDA
    provider's Pad has no int64 kernel), only where the map needs it."""

    def padded(b: Graph) -> str:
        one = b.const(np.int64(1))
        x, inside = map_, []
        for axis in (1, 2):
            side = b.dim(grid.shape, axis)
            positions = b.op("Range", b.const(np.int64(0)), b.dim(grid.padded_shape, axis), one)
            x = b.op("Gather", x, b.op("Min", positions, b.op("Sub", side, one)), axis=axis)
            inside.append(b.op("Less", positions, side))
        within = b.op("And", b.unsqueeze(inside[0], 1), b.unsqueeze(inside[1], 0))  # (Hp, Wp)
        return b.op("Where", within, x, b.const(np.int64(fill)))

    return g.if_else(grid.whole, lambda b: b.op("Identity", map_), padded, INT64, 3)


@dataclass(frozen=True)
class _Squares:
    """Squares of the map (tiles or blocks), N of them in raster order."""

    segment: str  # (N,): the largest segment in the square (or MARK, or -1)
    lowest: str  # (N,): the smallest counted segment (int64 max if none)
    members: str  # (N,): counted pixels (kept or marked)
    pooled: str  # (N, C): sum or maximum of the neutral features
    single: str  # (N,): pooled in place: its counted pixels are of one segment, none marked


def _tiles(g: Graph, features: str, marked: str, grid: _Grid, channels: str, mode: str) -> _Squares:
    padded = _pad_map(g, marked, grid, -1)
    width = g.dim(grid.padded_shape, 2)
    counted = _kept(g, padded)  # kept or marked
    highest = _squares(g, "ReduceMax", padded, width, TILE)
    big = g.const(np.int64(np.iinfo(np.int64).max))
    lowest = _squares(g, "ReduceMin", g.op("Where", counted, padded, big), width, TILE)
    members = _squares(g, "ReduceSum", g.cast(counted, FLOAT), width, TILE)
    pooled = _pool_tiles(g, features, grid, width, channels, mode)
    # A tile that is not exact here goes pixel by pixel, which always is.
    return _Squares(highest, lowest, members, pooled, _single(g, highest, lowest, pooled, mode))


def _blocks(g: Graph, tiles: _Squares, grid: _Grid, channels: str, mode: str) -> _Squares:
    """BLOCK x BLOCK tiles, single as a tile is (then so are its tiles that are not empty);
    the single tiles of the other blocks are pooled one by one."""
    width = g.op("Div", g.dim(grid.padded_shape, 2), g.const(np.int64(TILE)))
    highest = _squares(g, "ReduceMax", tiles.segment, width, BLOCK)
    lowest = _squares(g, "ReduceMin", tiles.lowest, width, BLOCK)
    members = _squares(g, "ReduceSum", tiles.members, width, BLOCK)
    reduce = "ReduceSum" if mode == "average" else "ReduceMax"
    pooled = _squares(g, reduce, tiles.pooled, width, BLOCK, channels)
    return _Squares(highest, lowest, members, pooled, _single(g, highest, lowest, pooled, mode))


def _single(g: Graph, highest: str, lowest: str, pooled: str, mode: str) -> str:
    """One segment (never so when all pixels are ignored), no mark, and for a sum no NaN
    from an ignored pixel."""
    single = g.op(
        "And", g.op("Equal", lowest, highest), g.op("Less", highest, g.const(np.int64(MARK)))
    )
    if mode == "max":
        return single
    nan = g.op("IsNaN", g.op("ReduceSum", pooled, g.i64(1), keepdims=0))
    return g.op("And", single, g.op("Not", nan))


def _pool_tiles(g: Graph, features: str, grid: _Grid, width: str, channels: str, mode: str) -> str:
    """(B, H, W, C) neutral features -> (N, C) sums or maxima of the tiles. Inside an If, so
    that only a map that needs it is padded (a copy of all the features)."""
    reduce = "ReduceSum" if mode == "average" else "ReduceMax"

    def pool(b: Graph, x: str) -> str:
        return _squares(b, reduce, x, width, TILE, channels)

    def padded(b: Graph) -> str:
        pads = b.op("Concat", b.i64(0, 0, 0, 0, 0), grid.pads, b.i64(0), axis=0)
        neutral = b.const(np.float32(0.0 if mode == "average" else -np.inf))
        return pool(b, b.op("Pad", features, pads, neutral))

    return g.if_else(grid.whole, lambda b: pool(b, features), padded, FLOAT, 2)


def _squares(
    g: Graph, reduce: str, x: str, width: str, side: int, channels: str | None = None
) -> str:
    """`reduce` over each side x side square of a map `width` wide (of C channels or none),
    its rows first: a reduction over the middle axis of (rows / side, side, width * C), which
    onnxruntime runs at memory speed, then over (squares, side, C) on 1 / side of the data."""
    inner = [] if channels is None else [g.unsqueeze(channels, 0)]
    band_width = width if channels is None else g.op("Mul", width, channels)
    bands = g.op("Concat", g.i64(-1, side), g.unsqueeze(band_width, 0), axis=0)
    band_rows = g.op(reduce, g.op("Reshape", x, bands), g.i64(1), keepdims=0)
    squares = g.op("Reshape", band_rows, g.op("Concat", g.i64(-1, side), *inner, axis=0))
    return g.op(reduce, squares, g.i64(1), keepdims=0)


def _spread(g: Graph, per_square: str, grid: _Grid, unit: int, side: int) -> str:
    """Values of squares of side x side units (of unit x unit pixels) -> values of their
    units, both in raster order."""
    size = unit * side
    squares = g.op("Div", g.slice(grid.padded_shape, 1, 3, 0), g.i64(size, size))
    rows = g.op("Mul", g.slice(grid.padded_shape, 0, 1, 0), g.slice(squares, 0, 1, 0))
    cols, step, one = g.slice(squares, 1, 2, 0), g.i64(side), g.i64(1)
    coarse = g.op("Reshape", per_square, g.op("Concat", rows, one, cols, one, axis=0))
    fine = g.op("Expand", coarse, g.op("Concat", rows, step, cols, step, axis=0))
    return g.op("Reshape", fine, g.i64(-1))


def _per_pixel(g: Graph, per_tile: str, grid: _Grid) -> str:
    """(N,) values of tiles -> (B, H, W): each pixel gets its tile's value."""
    padded = g.op("Reshape", _spread(g, per_tile, grid, 1, TILE), grid.padded_shape)
    return g.op("Slice", padded, g.i64(0, 0), g.slice(grid.shape, 1, 3, 0), g.i64(1, 2))


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
