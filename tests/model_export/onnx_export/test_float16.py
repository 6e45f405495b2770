"""`export --precision fp16`: the CUDA file in float16, its coordinates in float32, its gate
against Keras (here on onnxruntime's CPU provider), and a broken float16 file refused."""

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from model_export.onnx_export import command
from model_export.onnx_export.cuda_kernels import float16_ops_off_cuda
from model_export.onnx_export.errors import ExportError
from model_export.onnx_export.float16_gate import changed_labels, check_float16
from model_export.onnx_export.precision import coordinate_nodes, to_float16
from model_export.onnx_export.samples import read_samples
from regionserve_contract.files import samples_path
from tests.model_export.zoo.conftest import export_args
from tests.model_export.zoo.models import CLASSES, build

FLOAT, FLOAT16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
NAME = "masked_conv_two_heads"  # a RoI head and a superpixel (max) head, an extra input


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fp16")
    keras_path = folder / f"{NAME}.keras"
    build(NAME).save(keras_path)
    out = folder / f"{NAME}.onnx"
    classes = folder / "classes.txt"
    classes.write_text("\n".join(CLASSES) + "\n")
    args: list[str | Path] = ["--model", keras_path, "--out", out, "--classes", classes]
    command.export_command(export_args(*args, "--precision", "fp16"))
    return out


def _types(proto: onnx.ModelProto) -> dict[str, int]:
    graph = onnx.shape_inference.infer_shapes(proto).graph
    values = [*graph.input, *graph.value_info, *graph.output]
    return {v.name: v.type.tensor_type.elem_type for v in values}


def test_the_float16_file_is_written_beside_the_others_and_equals_keras(exported: Path) -> None:
    half_path = exported.with_name(f"{NAME}.decomposed.fp16.onnx")
    suffixes = [".decomposed.fp16.onnx", ".decomposed.onnx", ".keras", ".onnx", ".samples.npz"]
    assert sorted(p.name for p in exported.parent.glob(NAME + ".*")) == [NAME + s for s in suffixes]
    assert samples_path(half_path) == exported.with_name(f"{NAME}.samples.npz")
    half = onnx.load(str(half_path))
    props = {p.key: p.value for p in half.metadata_props}
    assert props["precision"] == "fp16" and props["roi_lowering"] == "decomposed"
    float32 = onnx.load(str(exported.with_name(f"{NAME}.decomposed.onnx")))
    assert "precision" not in {p.key for p in float32.metadata_props}
    # Clients see the same signature; the weights are float16.
    signature = [(v.name, v.type.tensor_type.elem_type) for v in half.graph.input]
    assert signature == [(v.name, v.type.tensor_type.elem_type) for v in float32.graph.input]
    assert {v.type.tensor_type.elem_type for v in half.graph.output} == {FLOAT}
    weights = [t for t in half.graph.initializer if t.data_type in (FLOAT, FLOAT16)]
    assert sum(t.data_type == FLOAT16 for t in weights) > len(weights) // 2
    assert float16_ops_off_cuda(half) == []
    session = ort.InferenceSession(str(half_path), providers=["CPUExecutionProvider"])
    for feed, recorded in read_samples(samples_path(exported)):
        for name, got in zip(recorded, session.run(list(recorded), feed), strict=True):
            np.testing.assert_allclose(got, recorded[name], rtol=5e-3, atol=5e-3)
            assert changed_labels(recorded[name], got)[0] == 0


def test_the_rois_arithmetic_stays_float32(exported: Path) -> None:
    float32 = onnx.load(str(exported.with_name(f"{NAME}.decomposed.onnx")))
    kept = coordinate_nodes(float32, ["rois"])
    nodes = {n.name: n for n in float32.graph.node}
    assert "Mul" in {nodes[n].op_type for n in kept}  # round(coord * scale)
    half = to_float16(float32, ["rois"])
    types = _types(half)
    half_nodes = {n.name: n for n in half.graph.node}
    outputs = [o for n in kept for o in half_nodes[n].output if o in types]
    assert outputs and all(types[o] != FLOAT16 for o in outputs)
    assert all(t != FLOAT16 for n in kept for t in [types.get(i) for i in half_nodes[n].input])


def test_a_broken_float16_file_is_refused(exported: Path) -> None:
    half = onnx.load(str(exported.with_name(f"{NAME}.decomposed.fp16.onnx")))
    samples = read_samples(samples_path(exported))
    feeds, expected = [f for f, _ in samples], [o for _, o in samples]
    heads = ["scores", "region_scores"]
    # Each head's class-1 logit moved by 0.1 before its Softmax: its score by about 0.016.
    shift = numpy_helper.from_array((np.arange(len(CLASSES)) == 1).astype(np.float16) / 10, "shift")
    half.graph.initializer.append(shift)
    for softmax in [n for n in half.graph.node if n.op_type == "Softmax"]:
        moved = softmax.input[0] + "_moved"
        half.graph.node.append(onnx.helper.make_node("Add", [softmax.input[0], "shift"], [moved]))
        softmax.input[0] = moved
    with pytest.raises(ExportError, match="float16 file differs from Keras on sample 0 at batch"):
        check_float16(half.SerializeToString(), feeds, expected, heads)


def test_labels_count_as_changed_only_outside_near_ties() -> None:
    expected = np.array([[0.1, 0.9], [0.499, 0.501], [0.7, 0.3]])
    got = np.array([[0.9, 0.1], [0.501, 0.499], [0.7, 0.3]])
    assert changed_labels(expected, got) == (1, 1)
    assert changed_labels(np.ones((3, 1)), np.zeros((3, 1))) == (0, 0)


RANGE_INPUTS = [("s", 0), ("l", 4), ("d", 1)]


def test_a_file_with_a_float16_op_cuda_lacks_is_named() -> None:
    x = onnx.helper.make_tensor_value_info("x", FLOAT16, [4])
    y = onnx.helper.make_tensor_value_info("y", FLOAT16, [None])
    graph = onnx.helper.make_graph(
        [
            onnx.helper.make_node("Relu", ["x"], ["r"], name="relu"),
            onnx.helper.make_node("Range", ["s", "l", "d"], ["y"], name="range"),
        ],
        "g",
        [x],
        [y],
        [numpy_helper.from_array(np.array(v, np.float16), n) for n, v in RANGE_INPUTS],
    )
    assert float16_ops_off_cuda(onnx.helper.make_model(graph)) == ["Range (range)"]


def test_the_cli_takes_the_flag_and_refuses_other_precisions() -> None:
    assert export_args("--precision", "fp16").precision == "fp16"
    assert export_args().precision == "fp32"
    with pytest.raises(SystemExit):
        export_args("--precision", "int8")
