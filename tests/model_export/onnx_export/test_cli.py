"""`python -m model_export export` as a user runs it: its own process, a plain shell's
environment (no KERAS_BACKEND, no TF_CPP_MIN_LOG_LEVEL), tiny models."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import onnx

from model_export.layers import RoiPooling
from model_export.onnx_export.samples import read_samples

REPOSITORY = Path(__file__).parents[3]
CLASSES = ["background", "a", "b"]
PLAIN_SHELL_UNSET = {"KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL"}  # what the Makefile and tests set
DOUBLER = '''"""A user's own layer, registered for Keras serialization."""

import keras


@keras.saving.register_keras_serializable(package="cli_test")
class Doubler(keras.layers.Layer):
    def call(self, x):
        return x * 2.0
'''


def export_cli(folder: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """The export CLI run in `folder` on `m.keras`, writing `out/m.onnx`."""
    env = {k: v for k, v in os.environ.items() if k not in PLAIN_SHELL_UNSET}
    env["PYTHONPATH"] = str(REPOSITORY)
    (folder / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    command = ["export", "--model", "m.keras", "--out", "out/m.onnx", "--classes", "classes.txt"]
    return subprocess.run(
        [sys.executable, "-m", "model_export", *command, *flags],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        check=False,
        timeout=300,
    )


def _written(folder: Path) -> list[str]:
    return sorted(p.name for p in (folder / "out").iterdir()) if (folder / "out").exists() else []


def _props(path: Path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def _model(image: keras.KerasTensor, features: keras.KerasTensor) -> keras.Model:
    rois = keras.Input((5,), name="boxes")
    pooled = RoiPooling((2, 2), 1 / 8, name="roi_pool")([features, rois])
    scores = keras.layers.Dense(len(CLASSES), activation="softmax", name="scores")(
        keras.layers.Flatten()(pooled)
    )
    return keras.Model([image, rois], scores, name="cli")


def _stride_8(image: keras.KerasTensor) -> keras.KerasTensor:
    x = keras.layers.Rescaling(1 / 255)(image)
    return keras.layers.Conv2D(4, 8, strides=8, padding="same", activation="relu")(x)


def test_help_prints_its_usage_and_no_tensorflow_start_up_lines(tmp_path: Path) -> None:
    result = export_cli(tmp_path, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: python -m model_export export")
    assert "--custom-objects MODULE" in result.stdout and "--allow-offset" in result.stdout
    assert result.stderr == ""


def test_a_fixed_image_size_is_recorded_served_as_it_is_and_warned(tmp_path: Path) -> None:
    keras.utils.set_random_seed(1)
    image = keras.Input((48, 64, 3), dtype="uint8", name="page")
    _model(image, _stride_8(image)).save(tmp_path / "m.keras")
    result = export_cli(tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.splitlines()[0] == (
        "export: image input 'page' is fixed at 48x64 (height x width): "
        "the service shrinks larger images to fit it and pads every image to it (bottom, right)"
    )
    props = _props(tmp_path / "out" / "m.onnx")
    assert json.loads(props["input_shapes"]) == {"page": [None, 48, 64, 3], "boxes": [None, 5]}
    assert props["max_image_side"] == "64"
    samples = read_samples(tmp_path / "out" / "m.samples.npz")
    assert {feed["page"].shape for feed, _ in samples} == {(1, 48, 64, 3), (2, 48, 64, 3)}


def test_a_padding_offset_is_refused_with_one_line_and_kept_with_the_flag(tmp_path: Path) -> None:
    """TextMaps' ZeroPadding2D(2) before a `same` 5x5 convolution, at 64 px instead of 1280."""
    keras.utils.set_random_seed(2)
    image = keras.Input((64, 64, 3), dtype="uint8", name="screenshot")
    x = keras.layers.ZeroPadding2D(2)(_stride_8(image))
    features = keras.layers.Conv2D(4, 5, padding="same", activation="relu")(x)
    _model(image, features).save(tmp_path / "m.keras")
    refused = export_cli(tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[1:] == [
        "export failed: RoiPooling 'roi_pool': its feature map is 12x12 for a 64x64 image at "
        "stride 8, 4 cells more than ceil(64/8) = 8 (rois would pool 2 cells up and left of "
        "their boxes): pad with a 'valid' convolution after ZeroPadding2D, or pass --allow-offset"
    ]
    assert _written(tmp_path) == []
    kept = export_cli(tmp_path, "--allow-offset")
    assert kept.returncode == 0, kept.stderr[-2000:]
    assert "4 cells more than ceil(64/8) = 8" in kept.stderr.splitlines()[1]
    assert kept.stderr.splitlines()[1].endswith("; kept (--allow-offset)")
    assert _written(tmp_path) == ["m.decomposed.onnx", "m.onnx", "m.samples.npz"]


def test_an_unknown_layer_is_named_and_exports_with_its_module(tmp_path: Path) -> None:
    (tmp_path / "doubler_layers.py").write_text(DOUBLER)
    spec = importlib.util.spec_from_file_location("doubler_layers", tmp_path / "doubler_layers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    keras.utils.set_random_seed(3)
    image = keras.Input((None, None, 3), dtype="uint8", name="picture")
    _model(image, module.Doubler(name="twice")(_stride_8(image))).save(tmp_path / "m.keras")
    unknown = export_cli(tmp_path)
    assert unknown.returncode == 1
    assert unknown.stderr.splitlines() == [
        "export failed: cannot load m.keras: layer 'twice' is of class Doubler (module "
        "'doubler_layers'), which Keras does not know: pass --custom-objects doubler_layers, "
        "the module that defines and registers it (keras.saving.register_keras_serializable)"
    ]
    assert _written(tmp_path) == []
    loaded = export_cli(tmp_path, "--custom-objects", "doubler_layers")
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert _written(tmp_path) == ["m.decomposed.onnx", "m.onnx", "m.samples.npz"]


def test_a_custom_objects_module_that_cannot_be_imported_is_one_line(tmp_path: Path) -> None:
    keras.utils.set_random_seed(4)
    image = keras.Input((None, None, 3), dtype="uint8", name="picture")
    _model(image, _stride_8(image)).save(tmp_path / "m.keras")
    result = export_cli(tmp_path, "--custom-objects", "no_such_module")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "export failed: --custom-objects no_such_module: cannot import it: "
        "ModuleNotFoundError: No module named 'no_such_module'"
    ]
