"""RegionServe's custom layers traced as marker ops that our tf2onnx handlers lower.

While a model is traced for export, each `RoiPooling`, `SuperpixelPooling` and `RegionProposals`
call (its two outputs, proposals and scores, from one op) becomes one
`tf.numpy_function` op (type `PyFuncStateless`) whose `token` attribute names the layer, followed
by `tf.ensure_shape` with the layer's own output shape. tf2onnx then meets one op per layer call,
with the layer's real inputs, instead of the TensorFlow maths of the layer (while loops, bit
shifts, segment reductions) that it converts badly or not at all. The function never runs: it is
only traced.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from model_export.layers import RegionProposals, RoiPooling, SuperpixelPooling

MARKER_OP = "PyFuncStateless"
MARKED_LAYERS = (RegionProposals, RoiPooling, SuperpixelPooling)


@dataclass(frozen=True)
class Marker:
    """One traced call of a custom layer: the layer and the graph tensors it took."""

    layer: keras.layers.Layer
    inputs: tuple[tf.Tensor, ...]


@dataclass
class Markers:
    """Markers by their op's token, filled while the model is traced."""

    by_token: dict[str, Marker] = field(default_factory=dict)

    def of_kind(self, kind: type) -> list[Marker]:
        return [m for m in self.by_token.values() if isinstance(m.layer, kind)]


def _never_run(*_: np.ndarray) -> np.ndarray:
    raise RuntimeError("a RegionServe export marker was executed; it exists only to be traced")


def _marker_call(layer: keras.layers.Layer, markers: Markers) -> Any:
    def call(inputs: list[tf.Tensor], training: bool | None = None) -> Any:
        del training  # Keras passes it to a layer whose own call takes it; export is inference
        shape = layer.compute_output_shape([tuple(t.shape) for t in inputs])
        if isinstance(layer, RegionProposals):  # two outputs: proposals and their scores
            outs = tf.numpy_function(
                _never_run, list(inputs), Tout=[tf.float32] * 2, stateful=False, name="regionserve"
            )
            markers.by_token[outs[0].op.get_attr("token").decode()] = Marker(layer, tuple(inputs))
            return tuple(tf.ensure_shape(o, s) for o, s in zip(outs, shape, strict=True))
        out = tf.numpy_function(
            _never_run, list(inputs), Tout=inputs[0].dtype, stateful=False, name="regionserve"
        )
        markers.by_token[out.op.get_attr("token").decode()] = Marker(layer, tuple(inputs))
        return tf.ensure_shape(out, shape)

    return call


def marked_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Every RegionProposals, RoiPooling and SuperpixelPooling layer, nested models included."""
    return [la for la in model._flatten_layers() if isinstance(la, MARKED_LAYERS)]


@contextmanager
def calls_replaced(layers: list[keras.layers.Layer], make_call: Callable) -> Iterator[None]:
    """Within the block, each layer's `call` is `make_call(layer)` (restored after)."""
    for layer in layers:
        layer.call = make_call(layer)
    try:
        yield
    finally:
        for layer in layers:
            del layer.call


@contextmanager
def tracing_with_markers(model: keras.Model) -> Iterator[Markers]:
    """Within the block, the custom layers of `model` trace as markers."""
    markers = Markers()
    with calls_replaced(marked_layers(model), lambda layer: _marker_call(layer, markers)):
        yield markers
