from pathlib import Path

import keras
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper

from model_export.layers import RoiPooling, SuperpixelPooling
from model_export.model import ModelSpec, build_region_classifier
from model_export.onnx_export.export import ExportError, check_graph, export, onnx_outputs
from model_export.onnx_export.layer_lowering import LoweringOptions, UnsupportedLayerError
from model_export.onnx_export.parity import check_parity
from model_export.scene_inputs import held_out_scenes, scene_batch

CLASSES = ("background", *"0123456789")
METADATA = {"name": "tiny", "classes": list(CLASSES)}


@pytest.fixture(scope="module")
def model() -> keras.Model:
    keras.utils.set_random_seed(1)
    return build_region_classifier(ModelSpec(CLASSES, widths=(4, 8, 8), head_width=4, embedding=16))


@pytest.fixture(scope="module")
def scenes_inputs() -> list[list[np.ndarray]]:
    scenes = held_out_scenes(3, seed=4, max_side=200)
    return [scene_batch(scenes[:1]).inputs, scene_batch(scenes).inputs]


@pytest.mark.parametrize("lowering", ["maxroipool", "decomposed"])
def test_onnx_equals_keras_at_batch_1_and_3(
    model: keras.Model, scenes_inputs: list, lowering: str, tmp_path: Path
) -> None:
    path = tmp_path / "m.onnx"
    export(model, path, LoweringOptions(lowering, 64), METADATA)
    for inputs in scenes_inputs:
        parity = check_parity(model, path, inputs)
        assert parity.ok, parity
        assert len(inputs[0]) == parity.batch
    assert parity.batch == 3


def test_graph_is_standard_with_metadata_and_dynamic_axes(
    model: keras.Model, tmp_path: Path
) -> None:
    proto = export(model, tmp_path / "m.onnx", LoweringOptions("decomposed", 64), METADATA)
    assert proto.opset_import[0].version == 18
    assert {n.domain for n in proto.graph.node} <= {"", "ai.onnx"}
    ops = {n.op_type for n in proto.graph.node}
    assert ops.isdisjoint({"Unique", "MaxRoiPool", "OneHot"})
    assert "ScatterElements" in ops and "ScatterND" not in ops
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["classes"] == '["background", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]'
    assert props["roi_lowering"] == "decomposed"
    dims = [d.dim_param for d in proto.graph.input[0].type.tensor_type.shape.dim[:3]]
    assert dims == ["batch", "height", "width"]


@pytest.mark.parametrize("lowering", ["maxroipool", "decomposed"])
def test_no_rois_and_no_superpixels(model: keras.Model, lowering: str, tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    export(model, path, LoweringOptions(lowering, 64), METADATA)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    image = np.zeros((2, 32, 48, 3), np.uint8)
    out = onnx_outputs(
        session, [image, np.zeros((0, 5), np.float32), -np.ones((2, 8, 12), np.int32)]
    )
    assert out["roi_scores"].shape == (0, len(CLASSES))
    assert out["superpixel_scores"].shape == (2, 0, len(CLASSES))


def test_dropout_between_convolutions_keeps_the_layout(scenes_inputs: list, tmp_path: Path) -> None:
    keras.utils.set_random_seed(2)
    image = keras.Input((None, None, 3), dtype="uint8", name="image")
    rois = keras.Input((5,), dtype="float32", name="rois")
    ids = keras.Input((None, None), dtype="int32", name="superpixels")
    x = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(image)
    x = keras.layers.Conv2D(4, 3, strides=4, padding="same", activation="relu")(x)
    x = keras.layers.Dropout(0.5)(x)
    features = keras.layers.Conv2D(6, 3, padding="same", activation="relu")(x)
    pooled = keras.layers.Flatten()(RoiPooling((2, 2), 0.25)([features, rois]))
    regions = SuperpixelPooling("max")([features, ids])
    outputs = {
        "roi_scores": keras.layers.Dense(len(CLASSES), activation="softmax")(pooled),
        "superpixel_scores": keras.layers.Dense(len(CLASSES), activation="softmax")(regions),
    }
    model = keras.Model([image, rois, ids], outputs)
    path = tmp_path / "m.onnx"
    export(model, path, LoweringOptions("maxroipool", 64), METADATA)
    assert check_parity(model, path, scenes_inputs[1]).ok


def test_unsupported_layer_fails_loudly(tmp_path: Path) -> None:
    x = keras.Input((None, None, 3))
    model = keras.Model(x, keras.layers.BatchNormalization(name="bn")(x))
    with pytest.raises(UnsupportedLayerError, match="'bn' of type BatchNormalization"):
        export(model, tmp_path / "m.onnx", LoweringOptions("maxroipool", 64), {})


def test_foreign_domain_fails_loudly() -> None:
    node = helper.make_node("Relu", ["x"], ["y"], domain="ai.onnx.contrib")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])],
    )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("ai.onnx.contrib", 1)],
    )
    with pytest.raises(ExportError, match="non-standard operators"):
        check_graph(proto)


def test_parity_detects_different_weights(
    model: keras.Model, scenes_inputs: list, tmp_path: Path
) -> None:
    path = tmp_path / "m.onnx"
    export(model, path, LoweringOptions("maxroipool", 64), METADATA)
    other = keras.models.clone_model(model)
    other.set_weights([w * 1.5 for w in model.get_weights()])
    assert not check_parity(other, path, scenes_inputs[0]).ok
