"""`export --precision fp16` of a model with a proposal head (the zoo's two_stage_s8, exported
once with the other own-model tests, its float16 gate passed): the proposal lowering and the RoI
arithmetic of its proposals stay float32, the convolutions are float16, the float16 file proposes
what the float32 one does, and its samples pass the service's float16 self-test. Run on the CPU
provider, which runs float16 here."""

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from model_export.onnx_export.float16_gate import float16_parity
from model_export.onnx_export.precision import coordinate_nodes
from model_export.onnx_export.samples import read_samples
from regionserve_contract.files import float16_variant, samples_path, within_tolerance
from regionserve_contract.metadata import FP16
from regionserve_contract.proposal_tolerance import ProposalOutputs, float16_close
from service.inference.self_test import replay
from tests.service.own_models.conftest import ExportZoo

FLOAT, FLOAT16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16
NAME = "two_stage_s8"
HEAD = ProposalOutputs("proposals", "objectness", "proposal_scores", 8)


def _files(export_zoo: ExportZoo) -> tuple[Path, Path]:
    float32 = export_zoo(NAME).onnx.with_name(f"{NAME}.decomposed.onnx")
    return float32, float16_variant(float32)


def _float_inputs(proto: onnx.ModelProto) -> dict[str, tuple[str, set[int]]]:
    """node name -> (op type, the float element types of its inputs), over the top graph."""
    graph = onnx.shape_inference.infer_shapes(proto).graph
    types = {v.name: v.type.tensor_type.elem_type for v in [*graph.input, *graph.value_info]}
    types |= {t.name: t.data_type for t in graph.initializer}
    return {
        n.name: (n.op_type, {types.get(i, 0) for i in n.input} & {FLOAT, FLOAT16})
        for n in graph.node
    }


def test_the_proposal_lowering_is_float32_and_the_convolutions_float16(
    export_zoo: ExportZoo,
) -> None:
    float32_path, half_path = _files(export_zoo)
    half = onnx.load(str(half_path))
    assert {p.key: p.value for p in half.metadata_props}["precision"] == FP16
    nodes = _float_inputs(half)
    by_op: dict[str, set[int]] = {}
    for op, types in nodes.values():
        by_op.setdefault(op, set()).update(types)
    assert by_op["Conv"] == {FLOAT16}  # backbone and the proposal head's own convolutions
    for op in ("Exp", "Clip", "TopK", "NonMaxSuppression", "GatherElements", "GatherND"):
        assert by_op[op] == {FLOAT}, op  # decoding and ranking
    # The RoI arithmetic of the proposals (as of the client's rois) reads float32 only.
    pooling = coordinate_nodes(onnx.load(str(float32_path)), ["proposals"])
    assert len(pooling) > 10
    assert all(FLOAT16 not in nodes[name][1] for name in pooling)
    # No float32 value goes through float16 and back on its way (a converter round trip).
    casts = {n.output[0]: n for n in half.graph.node if n.op_type == "Cast"}
    assert not [
        n
        for n in casts.values()
        if n.attribute[0].i == FLOAT
        and n.input[0] in casts
        and casts[n.input[0]].attribute[0].i == FLOAT16
    ]


def test_the_float16_file_proposes_what_the_float32_file_does(
    export_zoo: ExportZoo,
) -> None:
    float32, half = (
        ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        for path in _files(export_zoo)
    )
    outputs = ["proposals", "objectness", "proposal_scores"]
    rng = np.random.default_rng(29)
    for height, width in [(64, 80), (96, 64), (120, 136)]:
        image = rng.integers(0, 256, (2, height, width, 3), dtype=np.uint8)
        feed = {"image": image, "rois": np.array([[0, 0, 0, 7, 7], [1, 0, 0, 7, 7]], np.float32)}
        want = dict(zip(outputs, float32.run(outputs, feed), strict=True))
        got = dict(zip(outputs, half.run(outputs, feed), strict=True))
        assert got["proposals"].shape == want["proposals"].shape and len(want["proposals"]) > 4
        assert np.all(float16_close("proposals", got["proposals"], want, HEAD))
        assert np.all(within_tolerance(want["objectness"], got["objectness"], FP16))
        parity = float16_parity(got, want, [], 2, HEAD)
        assert parity.ok, str(parity)


def test_its_samples_pass_the_services_float16_self_test(export_zoo: ExportZoo) -> None:
    half = _files(export_zoo)[1]
    session = ort.InferenceSession(str(half), providers=["CPUExecutionProvider"])
    samples = read_samples(samples_path(half))
    outputs = list(samples[0][1])

    def run(feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(outputs, session.run(outputs, feed), strict=True))

    # The largest difference: a proposal whose edge sits on a RoI rounding edge pools other cells.
    assert 0 < replay(samples, run, FP16, HEAD) < 0.05
