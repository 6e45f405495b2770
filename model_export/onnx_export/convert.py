"""Keras model -> ONNX through tf2onnx, from a concrete function with an explicit signature."""

import logging
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import onnx
import tensorflow as tf
import tf2onnx
from onnx import numpy_helper

from model_export.onnx_export.errors import ExportError
from model_export.onnx_export.graph import IR_VERSION, OPSET
from model_export.onnx_export.handlers import MarkerLowering, custom_op_handlers
from model_export.onnx_export.markers import Markers, tracing_with_markers


@dataclass(frozen=True)
class Traced:
    """The model traced once with markers; converted once per RoI lowering."""

    function: Any  # the tf.function
    signature: list[tf.TensorSpec]
    concrete: Any  # its concrete function
    markers: Markers
    outputs: dict[str, tf.Tensor]  # graph tensors of the named outputs


def named_outputs(model: keras.Model, outputs: Any) -> dict[str, Any]:
    """A dict output as it is; otherwise the outputs under the model's output names."""
    if isinstance(outputs, dict):
        return dict(outputs)
    return dict(zip(model.output_names, keras.tree.flatten(outputs), strict=True))


def call_model(model: keras.Model, flat_inputs: list[Any]) -> dict[str, Any]:
    """The model on its inputs in `model.inputs` order, outputs by name."""
    inputs = keras.tree.pack_sequence_as(model._inputs_struct, flat_inputs)
    return named_outputs(model, model(inputs, training=False))


def trace(model: keras.Model) -> Traced:
    signature = [tf.TensorSpec(t.shape, t.dtype, name=t.name) for t in model.inputs]
    graph_outputs: dict[str, tf.Tensor] = {}

    @tf.function(input_signature=signature, autograph=False)
    def serve(*flat: tf.Tensor) -> dict[str, tf.Tensor]:
        outputs = call_model(model, list(flat))
        graph_outputs.update(outputs)
        return outputs

    with tracing_with_markers(model) as markers:
        concrete = serve.get_concrete_function(*signature)
    return Traced(serve, signature, concrete, markers, graph_outputs)


def _captures_as_initializers(proto: onnx.ModelProto, concrete: Any) -> None:
    """Constants a function captures (Normalization's mean and variance) reach tf2onnx as
    graph inputs; they become initializers holding their values."""
    values = {
        internal.name: external
        for external, internal in concrete.graph.captures
        if internal.dtype != tf.resource
    }
    used = {name for node in proto.graph.node for name in node.input}
    for graph_input in list(proto.graph.input):
        if graph_input.name in values:
            proto.graph.input.remove(graph_input)
        if graph_input.name in values and graph_input.name in used:
            value = np.asarray(values[graph_input.name])
            proto.graph.initializer.append(numpy_helper.from_array(value, graph_input.name))


def to_onnx(traced: Traced, roi_lowering: str, max_image_side: int) -> onnx.ModelProto:
    lowering = MarkerLowering(traced.markers, roi_lowering, max_image_side)
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    try:
        proto, _ = tf2onnx.convert.from_function(
            traced.function,
            traced.signature,
            opset=OPSET,
            custom_op_handlers=custom_op_handlers(lowering),
        )
    except Exception as error:  # the converter's own failures, reported on one line
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ExportError(f"tf2onnx failed: {type(error).__name__}: {first_line}") from error
    if lowering.failures:
        raise ExportError(lowering.failures[0])
    _captures_as_initializers(proto, traced.concrete)
    used = {node.domain for node in proto.graph.node} | {""}
    kept = [o for o in proto.opset_import if o.domain in used]  # tf2onnx adds ai.onnx.ml
    del proto.opset_import[:]
    proto.opset_import.extend(kept)
    proto.ir_version = IR_VERSION
    return proto
