"""RegionProposals lowered to standard ONNX ops that onnxruntime runs on CPU and CUDA:
Range / Expand for the anchors, Exp / Min / Clip for decoding, TopK, NonMaxSuppression,
GatherElements / GatherND, Sigmoid.

The arithmetic repeats `model_export.layers.proposal_ops` op for op. onnxruntime's
NonMaxSuppression pops equal scores in heap order (unspecified), so it is never given a tie:
its scores are the candidates' ranks after TopK (K - position, exact in float32), and a box it
selects is the TopK position it came from. Dropped candidates (a side below min_size, or fewer
anchors than pre_nms survive) score 0, below its score threshold.
"""

import numpy as np
import onnx
from onnx import helper

from model_export.layers import RegionProposals
from model_export.layers.proposal_ops import DELTA_CLIP
from model_export.onnx_export.graph import FLOAT, IR_VERSION, OPSET, Graph


def _anchors(g: Graph, base: np.ndarray, height: str, width: str, stride: int) -> list[str]:
    """[cx, cy, w, h], each (H * W * A,), in (y, x, anchor) order."""
    zero, one = g.const(np.int64(0)), g.const(np.int64(1))

    def shifts(count: str) -> str:
        cells = g.cast(g.op("Range", zero, count, one), FLOAT)
        return g.op("Mul", cells, g.const(np.float32(stride)))

    grid = g.op("Concat", g.unsqueeze(height, 0), g.unsqueeze(width, 0), g.i64(len(base)), axis=0)
    cx = g.op("Add", g.const(base[:, 0]), g.unsqueeze(shifts(width), 0, 2))  # (1, W, A)
    cy = g.op("Add", g.const(base[:, 1]), g.unsqueeze(shifts(height), 1, 2))  # (H, 1, A)
    columns = [cx, cy, g.const(base[:, 2]), g.const(base[:, 3])]
    return [g.op("Reshape", g.op("Expand", c, grid), g.i64(-1)) for c in columns]


def _decode(
    g: Graph, anchors: list[str], deltas: str, image_height: str, image_width: str
) -> list[str]:
    """(B, N) x1, y1, x2, y2 (inclusive ends), clipped to the image."""
    cx, cy, w, h = anchors
    dx, dy, dw, dh = (g.op("Gather", deltas, g.const(np.int64(k)), axis=2) for k in range(4))
    clip = g.const(np.float32(DELTA_CLIP))
    dw, dh = g.op("Min", dw, clip), g.op("Min", dh, clip)
    centre_x = g.op("Add", g.op("Mul", dx, w), cx)
    centre_y = g.op("Add", g.op("Mul", dy, h), cy)
    half = g.const(np.float32(0.5))
    half_w = g.op("Mul", half, g.op("Mul", g.op("Exp", dw), w))
    half_h = g.op("Mul", half, g.op("Mul", g.op("Exp", dh), h))
    one, zero = g.const(np.float32(1.0)), g.const(np.float32(0.0))
    right = g.op("Sub", g.cast(image_width, FLOAT), one)
    bottom = g.op("Sub", g.cast(image_height, FLOAT), one)

    def clipped(value: str, limit: str) -> str:
        return g.op("Clip", value, zero, limit)

    return [
        clipped(g.op("Sub", centre_x, half_w), right),
        clipped(g.op("Sub", centre_y, half_h), bottom),
        clipped(g.op("Sub", g.op("Add", centre_x, half_w), one), right),
        clipped(g.op("Sub", g.op("Add", centre_y, half_h), one), bottom),
    ]


def _large_enough(g: Graph, boxes: list[str], min_size: float) -> str:
    x1, y1, x2, y2 = boxes
    one, least = g.const(np.float32(1.0)), g.const(np.float32(min_size))
    wide = g.op("GreaterOrEqual", g.op("Add", g.op("Sub", x2, x1), one), least)
    tall = g.op("GreaterOrEqual", g.op("Add", g.op("Sub", y2, y1), one), least)
    return g.op("And", wide, tall)


def region_proposals(
    g: Graph, layer: RegionProposals, objectness: str, deltas: str, image: str
) -> tuple[str, str]:
    """The layer's (R, 5) proposals and (R,) scores."""
    shape = g.op("Shape", objectness)
    height, width = g.dim(shape, 1), g.dim(shape, 2)
    image_shape = g.op("Shape", image)
    logits = g.op("Reshape", g.cast(objectness, FLOAT), g.i64(0, -1))  # (B, N)
    steps = g.op("Reshape", g.cast(deltas, FLOAT), g.i64(0, -1, 4))  # (B, N, 4)
    anchors = _anchors(g, layer.anchors, height, width, layer.stride)
    boxes = _decode(g, anchors, steps, g.dim(image_shape, 1), g.dim(image_shape, 2))
    ok = _large_enough(g, boxes, layer.min_size)
    ranked = g.op("Where", ok, logits, g.const(np.float32(-np.inf)))
    count = g.op("Min", g.slice(g.op("Shape", logits), 1, 2, 0), g.i64(layer.pre_nms))
    top, order = g.op_outputs("TopK", ranked, count, count=2, axis=1, largest=1, sorted=1)
    return _select(g, layer, boxes, top, order, count)


def _select(
    g: Graph, layer: RegionProposals, boxes: list[str], top: str, order: str, count: str
) -> tuple[str, str]:
    stacked = g.op("Concat", *(g.unsqueeze(b, 2) for b in boxes), axis=2)  # (B, N, 4)
    index_shape = g.op("Concat", g.op("Shape", order), g.i64(4), axis=0)
    index = g.op("Expand", g.unsqueeze(order, 2), index_shape)
    candidates = g.op("GatherElements", stacked, index, axis=1)  # (B, K, 4)
    x1, y1, x2, y2 = (g.op("Gather", candidates, g.const(np.int64(k)), axis=2) for k in range(4))
    one = g.const(np.float32(1.0))
    yx = [y1, x1, g.op("Add", y2, one), g.op("Add", x2, one)]
    nms_boxes = g.op("Concat", *(g.unsqueeze(c, 2) for c in yx), axis=2)
    steps = g.op("Range", g.const(np.int64(0)), g.dim(count, 0), g.const(np.int64(1)))
    positions = g.cast(steps, FLOAT)
    rank = g.op("Sub", g.cast(count, FLOAT), positions)  # K, K - 1, ..., 1
    live = g.op("Greater", top, g.const(np.float32(-np.inf)))
    scores = g.op("Where", live, rank, g.const(np.float32(0.0)))
    selected = g.op(
        "NonMaxSuppression",
        nms_boxes,
        g.unsqueeze(scores, 1),
        g.i64(layer.post_nms),
        g.const(np.array([layer.iou_threshold], np.float32)),
        g.const(np.array([0.5], np.float32)),
        center_point_box=0,
    )  # (S, 3) [b, 0, position]
    where = g.op("Gather", selected, g.i64(0, 2), axis=1)  # (S, 2)
    image = g.cast(g.slice(where, 0, 1, 1), FLOAT)
    proposals = g.op("Concat", image, g.op("GatherND", candidates, where), axis=1)
    return proposals, g.op("Sigmoid", g.op("GatherND", top, where))


def proposal_model(layer: RegionProposals) -> onnx.ModelProto:
    """A graph of the layer alone: objectness (B, H, W, A), deltas (B, H, W, 4A) and a float
    image (B, IH, IW, 3) -> proposals (R, 5), scores (R,)."""
    g = Graph()
    proposals, scores = region_proposals(g, layer, "objectness", "deltas", "image")
    g.op("Identity", proposals, name="proposals")
    g.op("Identity", scores, name="scores")
    a = layer.anchor_count
    graph = helper.make_graph(
        g.nodes,
        "region_proposals",
        [
            helper.make_tensor_value_info("objectness", FLOAT, ["B", "H", "W", a]),
            helper.make_tensor_value_info("deltas", FLOAT, ["B", "H", "W", 4 * a]),
            helper.make_tensor_value_info("image", FLOAT, ["B", "IH", "IW", 3]),
        ],
        [
            helper.make_tensor_value_info("proposals", FLOAT, ["R", 5]),
            helper.make_tensor_value_info("scores", FLOAT, ["R"]),
        ],
        g.initializers,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    proto.ir_version = IR_VERSION
    return proto
