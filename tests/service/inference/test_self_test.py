"""The start-up self-test replays `<stem>.samples.npz`: no samples, no start (unless allowed);
both files of an export share the samples; samples that do not fit the model are refused."""

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from regionserve_contract.files import samples_path
from service.inference.model_info import ModelLoadError
from service.inference.predictor import Predictor
from service.inference.self_test import NO_SELF_TEST
from service.settings import Settings
from tests.service.app_serving import serving
from tests.service.conftest import SHIPPED_MODEL
from tests.service.server.test_process import run_service


def copy_without_samples(folder: Path) -> Path:
    model = folder / "no_samples.onnx"
    shutil.copy(SHIPPED_MODEL, model)
    return model


def test_a_model_without_its_samples_is_refused_at_start_with_one_line(tmp_path: Path) -> None:
    model = copy_without_samples(tmp_path)
    result = run_service(model)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"regionserve: cannot start: {tmp_path / 'no_samples.samples.npz'} not found: the "
        "model's recorded samples, which the self-test replays (`python -m model_export "
        "export` writes them; REGIONSERVE_ALLOW_NO_SELF_TEST=true serves without a self-test)"
    )


def test_allowed_without_samples_it_serves_and_says_there_was_no_self_test(
    tmp_path: Path,
) -> None:
    with serving(copy_without_samples(tmp_path), allow_no_self_test=True) as client:
        ready = client.get("/readyz")
        described = client.get("/v1/model").json()
    assert ready.status_code == 200
    assert ready.json()["self_test"] == NO_SELF_TEST
    assert NO_SELF_TEST == "not run: no recorded samples, allowed by REGIONSERVE_ALLOW_NO_SELF_TEST"
    assert (described["ready"], described["self_test"]) == (True, NO_SELF_TEST)


def test_the_decomposed_file_replays_the_samples_of_its_export() -> None:
    decomposed = SHIPPED_MODEL.with_name("region_classifier.decomposed.onnx")
    assert samples_path(decomposed) == samples_path(SHIPPED_MODEL)
    with serving(decomposed) as client:
        ready = client.get("/readyz").json()
    assert ready["model_file"] == "region_classifier.decomposed.onnx"
    assert ready["self_test"].startswith("passed (3 recorded samples, largest difference ")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda a: a.pop("sample1/input/rois"), "sample 1 has inputs ['image', 'superpixels']"),
        (lambda a: a.update({"sample0/output/boxes": a["sample0/output/roi_scores"]}),
         "sample 0 has outputs ['boxes', 'proposal_objectness', 'proposal_scores', 'proposals'"),
        (lambda a: a.update({"extra": np.zeros(1)}), "key 'extra' is not sample{k}/input|"),
    ],
    ids=["input-missing", "unknown-output", "stray-key"],
)  # fmt: skip
def test_samples_that_do_not_fit_the_model_are_refused_naming_the_file(
    tmp_path: Path, change: Callable[[dict[str, np.ndarray]], object], problem: str
) -> None:
    model = copy_without_samples(tmp_path)
    with np.load(samples_path(SHIPPED_MODEL)) as archive:
        arrays = dict(archive)
    change(arrays)
    np.savez(samples_path(model), **arrays)
    with pytest.raises(ModelLoadError) as refused:
        Predictor.from_settings(Settings(model_path=model))
    assert str(refused.value).startswith(f"{samples_path(model)}: unusable samples: {problem}")
