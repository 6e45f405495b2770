"""Export a functional Keras region classifier to ONNX, gated by checks that fail loudly."""

import json
from pathlib import Path

import keras
import numpy as np
import onnx
from onnx import helper

from model_export.layers import RoiPooling, SuperpixelPooling
from model_export.onnx_export.graph import IR_VERSION, OPSET, Graph
from model_export.onnx_export.layer_lowering import LoweringOptions, lower

STANDARD_DOMAINS = {"", "ai.onnx"}
NCHW_TO_NHWC, NHWC_TO_NCHW = [0, 2, 3, 1], [0, 3, 1, 2]
INPUTS: dict[str, tuple[int, list[str | int]]] = {
    "image": (onnx.TensorProto.UINT8, ["batch", "height", "width", 3]),
    "rois": (onnx.TensorProto.FLOAT, ["rois", 5]),
    "superpixels": (onnx.TensorProto.INT32, ["batch", "grid_height", "grid_width"]),
}
OUTPUTS: dict[str, list[str | int]] = {
    "roi_scores": ["rois", "classes"],
    "superpixel_scores": ["batch", "superpixels", "classes"],
}
# Image-shaped tensors are NCHW where ONNX wants them so, NHWC (Keras' order) elsewhere.
NCHW_PRODUCERS = (keras.layers.Conv2D, keras.layers.MaxPooling2D, keras.layers.Rescaling)
NCHW_CONSUMERS = (keras.layers.Conv2D, keras.layers.MaxPooling2D, RoiPooling, SuperpixelPooling)
NHWC_CONSUMERS = (keras.layers.Flatten, keras.layers.Dense)
LAYOUT_KEEPERS = (keras.layers.Dropout,)  # lowered to an identity: the output keeps the layout


class ExportError(RuntimeError):
    """The exported graph failed a gate: the file must not be shipped."""


def to_onnx(
    model: keras.Model, options: LoweringOptions, metadata: dict[str, str]
) -> onnx.ModelProto:
    g = Graph()
    names: dict[int, str] = {id(t): t.name for t in model.inputs}
    nchw: set[str] = set()
    for layer in model.operations:
        for call, node in enumerate(layer._inbound_nodes):
            if not all(id(t) in names for t in node.input_tensors) or not node.input_tensors:
                continue
            inputs = [names[id(t)] for t in node.input_tensors]
            if isinstance(layer, NHWC_CONSUMERS):
                inputs = [
                    g.op("Transpose", x, perm=NCHW_TO_NHWC) if x in nchw else x for x in inputs
                ]
            elif isinstance(layer, NCHW_CONSUMERS):
                # The first input is the image-shaped one (rois and ids pass as they are).
                x = inputs[0]
                inputs[0] = x if x in nchw else g.op("Transpose", x, perm=NHWC_TO_NCHW)
            # Each layer's output is named after the layer (onnxruntime drops the Identity).
            suffix = f"_{call}" if call else ""
            output = g.op("Identity", lower(g, layer, inputs, options), name=layer.name + suffix)
            if isinstance(layer, NCHW_PRODUCERS) or (
                isinstance(layer, LAYOUT_KEEPERS) and inputs[0] in nchw
            ):
                nchw.add(output)
            names[id(node.outputs[0])] = output
    for name, tensor in model._outputs_struct.items():
        g.op("Identity", names[id(tensor)], name=name)
    graph = helper.make_graph(
        g.nodes,
        model.name,
        [helper.make_tensor_value_info(n, t, s) for n, (t, s) in INPUTS.items()],
        [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, s) for n, s in OUTPUTS.items()],
        g.initializers,
    )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="regionserve.model_export",
    )
    proto.ir_version = IR_VERSION
    helper.set_model_props(proto, metadata)
    return proto


def check_graph(proto: onnx.ModelProto) -> None:
    """Full ONNX check, and only standard operator domains."""
    try:
        onnx.checker.check_model(proto, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as error:
        raise ExportError(f"onnx.checker rejected the graph: {error}") from error
    foreign = {
        f"{n.domain}::{n.op_type}" for n in proto.graph.node if n.domain not in STANDARD_DOMAINS
    }
    if foreign:
        raise ExportError(f"non-standard operators in the graph: {sorted(foreign)}")


def export(
    model: keras.Model, path: Path, options: LoweringOptions, metadata: dict
) -> onnx.ModelProto:
    """Lower, check and write `model`; parity is checked separately by the caller."""
    props = {k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()}
    proto = to_onnx(model, options, {**props, "roi_lowering": options.roi_lowering})
    check_graph(proto)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, path)
    return proto


def onnx_outputs(session: "object", inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Run an onnxruntime session on [image, rois, superpixels]."""
    feed = dict(zip(INPUTS, inputs, strict=True))
    names = list(OUTPUTS)
    return dict(zip(names, session.run(names, feed), strict=True))  # type: ignore[attr-defined]
