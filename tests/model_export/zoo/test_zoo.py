"""Every zoo model exports through the export command and equals Keras in both RoI lowerings."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import onnx
import onnxruntime as ort
import pytest

from model_export.onnx_export import command
from model_export.onnx_export.samples import read_samples
from tests.model_export.zoo.conftest import export_args
from tests.model_export.zoo.models import ZOO, build

REPOSITORY = Path(__file__).parents[3]


def _export(name: str, folder: Path) -> Path:
    keras_path = folder / f"{name}.keras"
    build(name).save(keras_path)
    args = export_args(
        "--model",
        keras_path,
        "--out",
        folder / f"{name}.onnx",
        "--classes",
        folder / "classes.txt",
        *ZOO[name].flags,
    )
    command.export_command(args)
    return keras_path


def _keras_outputs(model: keras.Model, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    outputs = model([feed[t.name] for t in model.inputs], training=False)
    if not isinstance(outputs, dict):
        outputs = {model.output_names[0]: outputs}
    return {k: np.asarray(v) for k, v in outputs.items()}


@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_model_exports_and_equals_keras(name: str, workdir: Path) -> None:
    model = keras.saving.load_model(_export(name, workdir))
    samples = read_samples(workdir / f"{name}.samples.npz")
    props = {p.key: p.value for p in onnx.load(str(workdir / f"{name}.onnx")).metadata_props}
    roles = json.loads(props["inputs"])
    assert {len(feed[roles["image"]]) for feed, _ in samples} == {1, 2}
    files = [f"{name}.onnx"] + ([f"{name}.decomposed.onnx"] if "rois" in roles else [])
    for file in files:
        session = ort.InferenceSession(str(workdir / file), providers=["CPUExecutionProvider"])
        for feed, recorded in samples:
            expected = _keras_outputs(model, feed)
            names = list(expected)
            for out_name, got in zip(names, session.run(names, feed), strict=True):
                np.testing.assert_allclose(got, expected[out_name], rtol=0, atol=1e-4)
                np.testing.assert_array_equal(recorded[out_name], expected[out_name])
                assert np.std(got) > 1e-4, f"{file}: degenerate scores"
    assert not [p for p in workdir.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_roles_and_stride_are_read_from_the_graph(name: str, workdir: Path) -> None:
    if not (workdir / f"{name}.onnx").exists():
        _export(name, workdir)
    props = {p.key: p.value for p in onnx.load(str(workdir / f"{name}.onnx")).metadata_props}
    expected = dict(ZOO[name].inputs)
    extra = expected.pop("extra", None)
    roles = json.loads(props["inputs"])
    assert {k: roles[k] for k in expected} == expected
    assert json.loads(props["extra_inputs"]) == ([extra] if extra else [])
    assert int(props["stride"]) == ZOO[name].stride
    assert props["regionserve_contract"] == "1"


def test_export_in_a_real_process(tmp_path: Path) -> None:
    build("superpixel_mean").save(tmp_path / "m.keras")
    (tmp_path / "classes.txt").write_text("background\ntitle\nprice\nimage\ntext\n")
    env = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "model_export",
            "export",
            "--model",
            str(tmp_path / "m.keras"),
            "--out",
            str(tmp_path / "m.onnx"),
            "--classes",
            str(tmp_path / "classes.txt"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPOSITORY,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "classes.txt",
        "m.keras",
        "m.onnx",
        "m.samples.npz",
    ]
