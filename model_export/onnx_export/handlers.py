"""tf2onnx custom op handlers: our lowerings of the marker ops, and mends of tf2onnx's gaps."""

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tf2onnx import utils
from tf2onnx.graph import Graph as Tf2onnxContext
from tf2onnx.graph import Node

from model_export.layers import RegionProposals, RoiPooling, SuperpixelPooling
from model_export.onnx_export import proposal_lowering, roi_lowering, superpixel_lowering
from model_export.onnx_export.graph import FLOAT, Graph
from model_export.onnx_export.markers import MARKER_OP, Markers
from model_export.onnx_export.tf2onnx_graph import Tf2onnxGraph

ROI_LOWERINGS = ("maxroipool", "decomposed")
LOWERING_FILES = {"maxroipool": "MaxRoiPool (CPU)", "decomposed": "decomposed (CUDA)"}


def _indexed_rois(g: Graph, batched: str) -> str:
    """(B, N, 4) rows [x1, y1, x2, y2] -> (B * N, 5) rows [b, x1, y1, x2, y2]."""
    shape = g.op("Shape", batched)
    count = g.slice(shape, 0, 2, 0)  # [B, N]
    image = g.op("Range", g.const(np.int64(0)), g.dim(shape, 0), g.const(np.int64(1)))
    column = g.unsqueeze(g.cast(image, FLOAT), 1, 2)  # (B, 1, 1)
    index = g.op("Expand", column, g.op("Concat", count, g.i64(1), axis=0))  # (B, N, 1)
    rows = g.op("Concat", index, g.cast(batched, FLOAT), axis=2)
    return g.op("Reshape", rows, g.i64(-1, 5))


def lower_roi_pooling(
    g: Graph, layer: RoiPooling, nhwc: str, rois: str, rois_rank: int, lowering: str, max_side: int
) -> str:
    """(B, H, W, C) features and rois in either form -> the layer's pooled output."""
    nchw = g.op("Transpose", nhwc, perm=[0, 3, 1, 2])
    indexed = rois if rois_rank == 2 else _indexed_rois(g, rois)
    size, scale = layer.pooled_size, layer.spatial_scale
    if lowering == "maxroipool":
        pooled = roi_lowering.max_roi_pool(g, nchw, indexed, size, scale)
    else:
        cells = roi_lowering.max_roi_cells(max_side, scale)
        pooled = roi_lowering.decomposed_roi_pool(g, nchw, indexed, size, scale, cells)
    if rois_rank == 2:
        return pooled
    batch_and_count = g.slice(g.op("Shape", rois), 0, 2, 0)
    rest = g.slice(g.op("Shape", pooled), 1, 4, 0)  # (PH, PW, C)
    return g.op("Reshape", pooled, g.op("Concat", batch_and_count, rest, axis=0))


@dataclass
class MarkerLowering:
    """The handler of marker ops: each becomes our lowering of its layer."""

    markers: Markers
    roi_lowering: str
    max_image_side: int  # the decomposed lowering covers rois up to this side
    failures: list[str] = field(default_factory=list)

    def __call__(self, ctx: Tf2onnxContext, node: Node, name: str, args: Any) -> None:
        marker = self.markers.by_token.get(node.get_attr_str("token"))
        if marker is None:  # a tf.numpy_function of the user's own: the gates report it
            return
        try:
            lowered = self._lower(Tf2onnxGraph(ctx), marker.layer, list(node.input), ctx)
        except Exception as error:  # tf2onnx swallows handler errors; keep the message
            self.failures.append(f"layer {marker.layer.name!r}: {error}")
            raise
        shapes, dtypes, outputs = node.output_shapes, node.output_dtypes, list(node.output)
        ctx.remove_node(node.name)
        for k, (value, output) in enumerate(zip(lowered, outputs, strict=True)):
            ctx.make_node(
                "Identity", [value], outputs=[output], shapes=[shapes[k]], dtypes=[dtypes[k]]
            )

    def _lower(self, g: Graph, layer: Any, inputs: list[str], ctx: Tf2onnxContext) -> list[str]:
        if isinstance(layer, RegionProposals):
            return list(proposal_lowering.region_proposals(g, layer, *inputs))
        return [self._lower_pooling(g, layer, inputs, ctx)]

    def _lower_pooling(self, g: Graph, layer: Any, inputs: list[str], ctx: Tf2onnxContext) -> str:
        features, second = inputs
        if isinstance(layer, RoiPooling):
            rank = len(ctx.get_shape(second))
            return lower_roi_pooling(
                g, layer, features, second, rank, self.roi_lowering, self.max_image_side
            )
        if isinstance(layer, SuperpixelPooling):
            return superpixel_lowering.superpixel_pool(g, features, second, layer.mode)
        raise TypeError(f"no lowering for {type(layer).__name__}")


def erfc_as_one_minus_erf(ctx: Tf2onnxContext, node: Node, name: str, args: Any) -> None:
    """Erfc (exact gelu) has no ONNX op and no tf2onnx handler: 1 - Erf(x)."""
    dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.input[0]))
    node.type = "Erf"
    one = ctx.make_const(utils.make_name("one"), np.ones((), dtype)).output[0]
    ctx.insert_new_node_on_output("Sub", node.output[0], inputs=[one, node.output[0]])


def custom_op_handlers(lowering: MarkerLowering) -> dict[str, tuple[Any, list]]:
    return {MARKER_OP: (lowering, []), "Erfc": (erfc_as_one_minus_erf, [])}
