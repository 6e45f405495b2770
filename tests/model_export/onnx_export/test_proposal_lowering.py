"""RegionProposals lowered to ONNX, on onnxruntime's CPU provider, against the NumPy reference:
the same proposals in the same order (ties, the IoU threshold itself, empty results, batches)."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from model_export.layers import RegionProposals
from model_export.onnx_export.proposal_lowering import proposal_model
from tests.model_export.layers.test_region_proposals import assert_is_reference, inputs
from tests.model_export.onnx_export.test_superpixel_lowering import (
    ANY_TYPE,
    CUDA_TYPES,
    NUMBERS,
    F,
    H,
    _nodes_and_types,
)
from tests.model_export.onnx_export.test_superpixel_lowering import D as DOUBLE

# onnxruntime's CUDA kernels (docs/OperatorKernels.md, CUDAExecutionProvider) of the ops this
# lowering adds to the superpixel lowering's, by the type of their data input.
PROPOSAL_CUDA_TYPES = {
    **CUDA_TYPES,
    "TopK": NUMBERS,
    "NonMaxSuppression": {F},
    "GatherND": NUMBERS,
    "Clip": {F, DOUBLE, H},
    "Exp": {F, DOUBLE, H},
    "Sigmoid": {F, DOUBLE, H},
}
PROPOSAL_ANY_TYPE = ANY_TYPE | {"GatherElements"}


def run(layer: RegionProposals, x: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    session = ort.InferenceSession(
        proposal_model(layer).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    feed = {"objectness": x[0], "deltas": x[1], "image": x[2].astype(np.float32)}
    proposals, scores = session.run(["proposals", "scores"], feed)
    return proposals, scores


def assert_matches_reference(layer: RegionProposals, x: list[np.ndarray]) -> np.ndarray:
    return assert_is_reference(layer, x, *run(layer, x))


@pytest.mark.parametrize("batch", [1, 3])
def test_random_batches_match_the_reference(batch: int) -> None:
    layer = RegionProposals((16.0, 32.0), (0.5, 1.0, 2.0), 8, 80, 25, 0.5, 3.0)
    assert len(assert_matches_reference(layer, inputs(batch, 6, 7))) == 25 * batch


def test_ties_and_the_threshold_itself_select_as_the_reference() -> None:
    x = inputs(2, 4, 5, anchors=1)
    x[0][:] = 0.0  # every score equal: rank by anchor index
    x[0][:, 0], x[0][:, :, 0] = -10.0, -10.0
    x[1][:] = 0.0
    x[2] = np.zeros((2, 48, 56, 3), np.float32)
    for threshold in (float(np.float32(1 / 3)), 0.333, 0.0, 1.0):
        layer = RegionProposals((16.0,), (1.0,), 8, 100, 100, threshold)
        assert_matches_reference(layer, x)


def test_nothing_left_gives_empty_outputs_and_pre_nms_caps_the_candidates() -> None:
    x = inputs(2, 5, 5, spread=1.0)
    proposals, scores = run(RegionProposals((16.0, 32.0), (0.5, 1.0, 2.0), 8, min_size=1e6), x)
    assert proposals.shape == (0, 5) and scores.shape == (0,)
    capped = RegionProposals((16.0, 32.0), (0.5, 1.0, 2.0), 8, 5, 50, 0.7, 8.0)
    assert len(assert_matches_reference(capped, x)) <= 10


def test_every_op_has_a_cuda_kernel_for_its_type() -> None:
    layer = RegionProposals((16.0, 32.0), (0.5, 1.0, 2.0), 8)
    proto = onnx.shape_inference.infer_shapes(proposal_model(layer), check_type=True)
    onnx.checker.check_model(proto, full_check=True)
    types: dict[str, int] = {}
    missing = []
    for node in _nodes_and_types(proto.graph, types):
        if node.op_type in PROPOSAL_ANY_TYPE:
            continue
        data = node.input[1 if node.op_type == "Where" else 0]
        if types.get(data) not in PROPOSAL_CUDA_TYPES.get(node.op_type, set()):
            missing.append((node.op_type, types.get(data)))
    assert not missing, missing
