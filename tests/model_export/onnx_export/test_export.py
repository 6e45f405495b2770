"""The export's gates, failures and metadata, on tiny models."""

import json
from pathlib import Path
from typing import Any

import keras
import numpy as np
import onnx
import pytest
import tensorflow as tf
from onnx import helper

from model_export.layers import RoiPooling
from model_export.onnx_export import command, export
from model_export.onnx_export.errors import ExportError
from model_export.onnx_export.gates import check_graph
from model_export.onnx_export.samples import read_samples
from tests.model_export.zoo.conftest import export_args

CLASSES = ["background", "a", "b"]


@keras.saving.register_keras_serializable(package="tests")
class LogGamma(keras.layers.Layer):
    """A layer whose TensorFlow op (Lgamma) tf2onnx cannot convert."""

    def call(self, x: tf.Tensor) -> tf.Tensor:
        return tf.math.lgamma(x + 1.0)


def tiny_model(second_image: bool = False, middle: Any = None) -> keras.Model:
    keras.utils.set_random_seed(3)
    image = keras.Input((None, None, 3), dtype="uint8", name="picture")
    rois = keras.Input((5,), name="boxes")
    inputs = [image, rois]
    x = keras.layers.Rescaling(1 / 255)(image)
    if second_image:
        other = keras.Input((None, None, 3), name="other_picture")
        inputs.append(other)
        x = keras.layers.Add()([x, other])
    x = keras.layers.Conv2D(4, 3, strides=4, padding="same", activation="relu")(x)
    if middle is not None:
        x = middle(x)
    pooled = keras.layers.Flatten()(RoiPooling((2, 2), 0.25)([x, rois]))
    scores = keras.layers.Dense(len(CLASSES), activation="softmax", name="scores")(pooled)
    return keras.Model(inputs, scores, name="tiny")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "classes.txt").write_text("\n".join(CLASSES))
    return tmp_path


def _args(folder: Path, model: keras.Model, *flags: str) -> Any:
    model.save(folder / "m.keras")
    return export_args(
        "--model",
        folder / "m.keras",
        "--out",
        folder / "m.onnx",
        "--classes",
        folder / "classes.txt",
        *flags,
    )


def _written(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in {"m.keras", "classes.txt"})


def test_unsupported_op_fails_with_one_line_naming_the_layer(folder: Path) -> None:
    args = _args(folder, tiny_model(middle=LogGamma(name="log_gamma")))
    with pytest.raises(SystemExit) as stopped:
        command.run(args)
    assert str(stopped.value) == (
        "export failed: layer 'log_gamma': TensorFlow op Lgamma has no ONNX conversion"
    )
    assert _written(folder) == []


def test_a_failed_gate_leaves_no_file(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = export.check_parity

    def second_lowering_fails(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise ExportError("parity with Keras failed at batch 2")
        return real(*args)

    monkeypatch.setattr(export, "check_parity", second_lowering_fails)
    with pytest.raises(ExportError, match="parity with Keras failed"):
        command.export_command(_args(folder, tiny_model()))
    assert len(calls) == 2
    assert _written(folder) == []


def test_metadata_follows_the_contract(folder: Path) -> None:
    command.export_command(_args(folder, tiny_model(), "--pad-value", "7"))
    assert _written(folder) == ["m.decomposed.onnx", "m.onnx", "m.samples.npz"]
    props = {p.key: p.value for p in onnx.load(str(folder / "m.onnx")).metadata_props}
    assert props == {
        "regionserve_contract": "1",
        "name": "tiny",
        "version": "1",
        "classes": json.dumps(CLASSES),
        "background_class": "0",
        "inputs": json.dumps({"image": "picture", "rois": "boxes"}),
        "extra_inputs": "[]",
        "input_shapes": json.dumps({"picture": [None, None, None, 3], "boxes": [None, 5]}),
        "outputs": json.dumps({"rois": "scores"}),
        "stride": "4",
        "image_dtype": "uint8",
        "image_preprocessing": "{}",
        "pad_value": "7",
        "max_image_side": "1024",
        "rois_format": "indexed",
        "roi_lowering": "maxroipool",
    }
    decomposed = onnx.load(str(folder / "m.decomposed.onnx"))
    assert {p.key: p.value for p in decomposed.metadata_props}["roi_lowering"] == "decomposed"
    assert "MaxRoiPool" not in {n.op_type for n in decomposed.graph.node}


def test_two_image_candidates_need_the_flag(folder: Path) -> None:
    args = _args(folder, tiny_model(second_image=True))
    with pytest.raises(ExportError, match=r"candidates: picture, other_picture.*--image-input"):
        command.export_command(args)
    assert _written(folder) == []
    args.image_input = "picture"
    command.export_command(args)
    props = {p.key: p.value for p in onnx.load(str(folder / "m.onnx")).metadata_props}
    assert json.loads(props["extra_inputs"]) == ["other_picture"]


def test_class_count_must_match_the_scores(folder: Path) -> None:
    (folder / "classes.txt").write_text("background\na\n")
    with pytest.raises(ExportError, match="has 3 scores but 2 classes are named"):
        command.export_command(_args(folder, tiny_model()))


def test_float_image_records_its_preprocessing(folder: Path) -> None:
    image = keras.Input((None, None, 3), name="image")
    rois = keras.Input((5,), name="rois")
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same")(image)
    pooled = keras.layers.Flatten()(RoiPooling((2, 2), 0.5)([x, rois]))
    model = keras.Model([image, rois], keras.layers.Dense(3, activation="softmax")(pooled))
    flags = ["--image-scale", "0.5", "--image-mean", "1", "2", "3", "--image-std", "4", "5", "6"]
    command.export_command(_args(folder, model, *flags))
    props = {p.key: p.value for p in onnx.load(str(folder / "m.onnx")).metadata_props}
    assert props["image_dtype"] == "float32"
    assert json.loads(props["image_preprocessing"]) == {
        "scale": 0.5,
        "mean": [1.0, 2.0, 3.0],
        "std": [4.0, 5.0, 6.0],
    }


def test_given_samples_are_the_ones_recorded(folder: Path) -> None:
    rng = np.random.default_rng(5)
    feed: dict[str, Any] = {
        "picture": rng.integers(0, 256, (2, 24, 40, 3)).astype(np.uint8),
        "boxes": np.array([[0, 0, 0, 7, 7], [1, 4, 2, 39, 23]], np.float32),
    }
    np.savez(folder / "given.npz", **{f"sample0/input/{k}": v for k, v in feed.items()})
    args = _args(folder, tiny_model(), "--samples", str(folder / "given.npz"))
    command.export_command(args)
    [(recorded, outputs)] = read_samples(folder / "m.samples.npz")
    assert recorded.keys() == feed.keys()
    for name, value in feed.items():
        np.testing.assert_array_equal(recorded[name], value)
    assert next(iter(outputs.values())).shape == (2, 3)


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
        check_graph(proto, [])


def test_another_max_image_side_than_a_fixed_image_is_refused(folder: Path) -> None:
    image = keras.Input((32, 48, 3), dtype="uint8", name="page")
    rois = keras.Input((5,), name="rois")
    x = keras.layers.Conv2D(4, 3, strides=4, padding="same")(keras.layers.Rescaling(1 / 255)(image))
    pooled = keras.layers.Flatten()(RoiPooling((2, 2), 0.25)([x, rois]))
    model = keras.Model([image, rois], keras.layers.Dense(3, activation="softmax")(pooled))
    with pytest.raises(ExportError) as refused:
        command.export_command(_args(folder, model, "--max-image-side", "1024"))
    assert str(refused.value) == (
        "--max-image-side 1024 but image input 'page' is fixed at 32x48 (height x width): "
        "leave it out, or give 48"
    )
    assert _written(folder) == []
