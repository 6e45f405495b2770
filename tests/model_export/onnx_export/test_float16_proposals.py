"""The float16 gate on a proposal head's outputs: as many proposals, edges within the pixel
tolerance, and a proposal on a RoI rounding edge exempt from the score tolerance alone. The
zoo's two-stage model through the whole export: tests/service/own_models/test_two_stage_fp16.py."""

import numpy as np

from model_export.onnx_export.float16_gate import float16_parity
from regionserve_contract.proposal_tolerance import ProposalOutputs, box_tolerance, rounding_ties

HEAD = ProposalOutputs("proposals", "objectness", "proposal_scores", 8)


def test_the_gate_refuses_another_proposal_set_and_moved_boxes() -> None:
    boxes = np.array([[0, 10, 20, 41, 51], [0, 0, 0, 7, 7]], np.float32)
    want = {
        "proposals": boxes,
        "objectness": np.array([0.9, 0.8], np.float32),
        "proposal_scores": np.array([[0.9, 0.1], [0.3, 0.7]], np.float32),
    }
    assert float16_parity(want, want, [], 1, HEAD).ok
    fewer = {name: value[:1] for name, value in want.items()}
    assert not float16_parity(fewer, want, [], 1, HEAD).ok
    moved = dict(want, proposals=boxes + np.array([0, 0.2, 0, 0, 0], np.float32))
    # A 32 px box's edge may move 5e-3 + 5e-3 * 32 = 0.165 px: 0.2 px is too far.
    np.testing.assert_allclose(box_tolerance(boxes)[0, 1], 0.165)
    assert not float16_parity(moved, want, [], 1, HEAD).ok


def test_a_box_edge_on_a_rounding_half_way_point_exempts_its_scores_only() -> None:
    boxes = np.array([[0, 0, 0, 36.00008, 20], [0, 0, 0, 33, 21]], np.float32)  # 36 / 8 = 4.5
    assert rounding_ties(boxes, 8).tolist() == [True, False]
    want = {
        "proposals": boxes,
        "objectness": np.array([0.9, 0.8], np.float32),
        "proposal_scores": np.array([[0.9, 0.1], [0.3, 0.7]], np.float32),
    }
    shift = np.array([[-0.02, 0.02], [0, 0]], np.float32)
    tie_moved = dict(want, proposal_scores=want["proposal_scores"] + shift)
    assert float16_parity(tie_moved, want, [], 1, HEAD).ok
    other_moved = dict(want, proposal_scores=want["proposal_scores"] + shift[::-1])
    assert not float16_parity(other_moved, want, [], 1, HEAD).ok
