"""One lowering function per Keras layer type. Image tensors are kept NCHW inside the graph."""

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np

from model_export.layers import MaskedConv2D, RoiPooling, SuperpixelPooling
from model_export.onnx_export import roi_lowering, superpixel_lowering
from model_export.onnx_export.graph import FLOAT, Graph


@dataclass(frozen=True)
class LoweringOptions:
    roi_lowering: str  # "maxroipool" or "decomposed"
    max_roi_cells: int  # largest roi side, in feature cells, the decomposed lowering covers


class UnsupportedLayerError(ValueError):
    """A layer with no lowering: the export stops rather than leave it out."""


Lowering = Callable[[Graph, keras.layers.Layer, list[str], LoweringOptions], str]


def _activation(g: Graph, layer: keras.layers.Layer, x: str) -> str:
    name = keras.activations.serialize(layer.activation)
    name = name if isinstance(name, str) else name.get("config", {}).get("name", name)
    if name == "linear":
        return x
    if name == "relu":
        return g.op("Relu", x)
    if name == "softmax":
        return g.op("Softmax", x, axis=-1)
    raise UnsupportedLayerError(f"{layer.name}: activation {name!r} has no lowering")


def _padding(layer: keras.layers.Layer) -> str:
    return {"same": "SAME_UPPER", "valid": "VALID"}[layer.padding]


def conv(g: Graph, layer: keras.layers.Layer, inputs: list[str], _: LoweringOptions) -> str:
    if isinstance(layer, MaskedConv2D) and layer.mask is None:
        raise UnsupportedLayerError(f"{layer.name}: export needs the mask in the layer config")
    if layer.groups != 1 or layer.data_format != "channels_last":
        raise UnsupportedLayerError(f"{layer.name}: groups and channels_first are not lowered")
    kernel = np.asarray(layer.kernel)
    if isinstance(layer, MaskedConv2D) and layer.mask is not None:
        kernel = kernel * layer.mask[:, :, None, None]
    weights = [g.const(kernel.transpose(3, 2, 0, 1).astype(np.float32), hint="kernel")]
    if layer.use_bias:
        weights.append(g.const(np.asarray(layer.bias, np.float32), hint="bias"))
    y = g.op(
        "Conv",
        inputs[0],
        *weights,
        kernel_shape=list(layer.kernel_size),
        strides=list(layer.strides),
        dilations=list(layer.dilation_rate),
        auto_pad=_padding(layer),
    )
    return _activation(g, layer, y)


def max_pool(g: Graph, layer: keras.layers.Layer, inputs: list[str], _: LoweringOptions) -> str:
    return g.op(
        "MaxPool",
        inputs[0],
        kernel_shape=list(layer.pool_size),
        strides=list(layer.strides),
        auto_pad=_padding(layer),
    )


def rescaling(g: Graph, layer: keras.layers.Layer, inputs: list[str], _: LoweringOptions) -> str:
    scaled = g.op("Mul", g.cast(inputs[0], FLOAT), g.const(np.float32(layer.scale)))
    shifted = g.op("Add", scaled, g.const(np.float32(layer.offset)))
    return g.op("Transpose", shifted, perm=[0, 3, 1, 2])  # the image enters NHWC


def dense(g: Graph, layer: keras.layers.Layer, inputs: list[str], _: LoweringOptions) -> str:
    y = g.op("MatMul", inputs[0], g.const(np.asarray(layer.kernel, np.float32), hint="kernel"))
    if layer.use_bias:
        y = g.op("Add", y, g.const(np.asarray(layer.bias, np.float32), hint="bias"))
    return _activation(g, layer, y)


def flatten(g: Graph, _: keras.layers.Layer, inputs: list[str], __: LoweringOptions) -> str:
    return g.op("Flatten", inputs[0], axis=1)


def identity(g: Graph, _: keras.layers.Layer, inputs: list[str], __: LoweringOptions) -> str:
    return inputs[0]


def roi_pooling(g: Graph, layer: keras.layers.Layer, inputs: list[str], o: LoweringOptions) -> str:
    features, rois = inputs
    if o.roi_lowering == "maxroipool":
        return roi_lowering.max_roi_pool(g, features, rois, layer.pooled_size, layer.spatial_scale)
    levels = roi_lowering.table_levels(o.max_roi_cells, max(layer.pooled_size))
    return roi_lowering.decomposed_roi_pool(
        g, features, rois, layer.pooled_size, layer.spatial_scale, levels
    )


def superpixel_pooling(
    g: Graph, layer: keras.layers.Layer, inputs: list[str], _: LoweringOptions
) -> str:
    nhwc = g.op("Transpose", inputs[0], perm=[0, 2, 3, 1])
    return superpixel_lowering.superpixel_pool(g, nhwc, inputs[1], layer.mode)


# Order matters: MaskedConv2D is a Conv2D.
LOWERINGS: list[tuple[type, Lowering]] = [
    (keras.layers.Conv2D, conv),
    (keras.layers.MaxPooling2D, max_pool),
    (keras.layers.Rescaling, rescaling),
    (keras.layers.Dense, dense),
    (keras.layers.Flatten, flatten),
    (keras.layers.Dropout, identity),
    (RoiPooling, roi_pooling),
    (SuperpixelPooling, superpixel_pooling),
]


def lower(g: Graph, layer: keras.layers.Layer, inputs: list[str], options: LoweringOptions) -> str:
    for kind, lowering in LOWERINGS:
        if isinstance(layer, kind):
            return lowering(g, layer, inputs, options)
    raise UnsupportedLayerError(
        f"layer {layer.name!r} of type {type(layer).__name__} has no ONNX lowering"
    )
