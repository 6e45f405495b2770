"""The classical fallback of a two-stage model: its proposal head pruned off, the rest of the
file as exported; the service proposes with selective search and its self-test still passes."""

from pathlib import Path

import numpy as np

from bench.classical_fallback import without_proposal_head
from service.inference.feed import ModelInput
from service.inference.predictor import Predictor
from service.inference.self_test import replay_samples
from tests.service.own_models.conftest import ExportZoo, export_zoo  # noqa: F401 (fixture)


def test_the_pruned_file_has_no_proposal_head_and_the_same_roi_scores(
    export_zoo: ExportZoo,  # noqa: F811
    tmp_path: Path,
) -> None:
    two_stage = export_zoo("two_stage_s8").onnx
    classical = Predictor(without_proposal_head(two_stage, tmp_path), ["CPUExecutionProvider"])
    whole = Predictor(two_stage, ["CPUExecutionProvider"])
    assert whole.info.proposal_head is not None and classical.info.proposal_head is None
    assert "proposals" in classical.info.modes
    assert replay_samples(classical).startswith("passed (")
    image = np.random.default_rng(0).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    rois = np.array([[0, 0, 31, 31], [8, 16, 63, 47]], np.float32)
    got, want = (p.run([ModelInput(image, rois, None)])[0].rois for p in (classical, whole))
    np.testing.assert_array_equal(got, want)
