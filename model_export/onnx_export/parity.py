"""Parity between a Keras model and its ONNX export, and RoI pooling against the reference."""

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

from model_export import reference
from model_export.layers import RoiPooling
from model_export.onnx_export.export import OUTPUTS, onnx_outputs

SCORE_TOLERANCE = 1e-4


@dataclass(frozen=True)
class Parity:
    batch: int
    score_diff: dict[str, float]  # largest |keras - onnx| per output
    pooled_diff_onnx: float  # largest |onnx pooled - reference on onnx features|
    pooled_diff_keras: float  # the same for Keras

    @property
    def ok(self) -> bool:
        scores_ok = all(d <= SCORE_TOLERANCE for d in self.score_diff.values())
        return scores_ok and self.pooled_diff_onnx == 0.0 and self.pooled_diff_keras == 0.0


def _roi_layer(model: keras.Model) -> RoiPooling:
    return next(layer for layer in model.layers if isinstance(layer, RoiPooling))


def _session_with_pooling_outputs(path: Path, features: str, pooled: str) -> ort.InferenceSession:
    proto = onnx.load(str(path))
    for name in (features, pooled):
        proto.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def check_parity(model: keras.Model, onnx_path: Path, inputs: list[np.ndarray]) -> Parity:
    layer = _roi_layer(model)
    features_tensor = layer._inbound_nodes[0].input_tensors[0]
    features_name = features_tensor._keras_history.operation.name
    session = _session_with_pooling_outputs(onnx_path, features_name, layer.name)
    expected = model(inputs, training=False)
    got = onnx_outputs(session, inputs)
    diffs = {n: float(np.max(np.abs(np.asarray(expected[n]) - got[n]), initial=0)) for n in OUTPUTS}
    onnx_features, onnx_pooled = session.run([features_name, layer.name], _feed(inputs))
    onnx_features = onnx_features.transpose(0, 2, 3, 1)  # the graph keeps NCHW
    probe = keras.Model(model.inputs, [features_tensor, layer.output])
    keras_features, keras_pooled = (np.asarray(t) for t in probe(inputs, training=False))

    def pooled_diff(features: np.ndarray, pooled: np.ndarray) -> float:
        ref = reference.roi_pool(features, inputs[1], layer.pooled_size, layer.spatial_scale)
        return float(np.max(np.abs(ref - pooled), initial=0))

    return Parity(
        len(inputs[0]),
        diffs,
        pooled_diff(onnx_features, onnx_pooled),
        pooled_diff(keras_features, keras_pooled),
    )


def _feed(inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
    return dict(zip(["image", "rois", "superpixels"], inputs, strict=True))
