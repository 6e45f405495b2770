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


def _roi_layers(model: keras.Model) -> list[RoiPooling]:
    return [layer for layer in model.layers if isinstance(layer, RoiPooling)]


def _session_with_outputs(path: Path, names: list[str]) -> ort.InferenceSession:
    proto = onnx.load(str(path))
    for name in names:
        proto.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def check_parity(model: keras.Model, onnx_path: Path, inputs: list[np.ndarray]) -> Parity:
    """Scores of Keras against ONNX, and every RoI layer of both against the reference."""
    layers = _roi_layers(model)
    feature_tensors = [layer._inbound_nodes[0].input_tensors[0] for layer in layers]
    feature_names = [t._keras_history.operation.name for t in feature_tensors]
    session = _session_with_outputs(onnx_path, feature_names + [la.name for la in layers])
    expected = model(inputs, training=False)
    got = onnx_outputs(session, inputs)
    diffs = {n: float(np.max(np.abs(np.asarray(expected[n]) - got[n]), initial=0)) for n in OUTPUTS}
    onnx_tensors = session.run(feature_names + [la.name for la in layers], _feed(inputs))
    probe = keras.Model(model.inputs, feature_tensors + [la.output for la in layers])
    keras_tensors = [np.asarray(t) for t in probe(inputs, training=False)]

    def pooled_diff(tensors: list[np.ndarray], nchw_features: bool) -> float:
        worst = 0.0
        for i, layer in enumerate(layers):
            features, pooled = tensors[i], tensors[len(layers) + i]
            if nchw_features:  # the ONNX graph keeps image tensors NCHW
                features = features.transpose(0, 2, 3, 1)
            ref = reference.roi_pool(features, inputs[1], layer.pooled_size, layer.spatial_scale)
            worst = max(worst, float(np.max(np.abs(ref - pooled), initial=0)))
        return worst

    return Parity(
        len(inputs[0]), diffs, pooled_diff(onnx_tensors, True), pooled_diff(keras_tensors, False)
    )


def _feed(inputs: list[np.ndarray]) -> dict[str, np.ndarray]:
    return dict(zip(["image", "rois", "superpixels"], inputs, strict=True))
