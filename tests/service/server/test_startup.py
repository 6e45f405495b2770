"""Start-up fails loud: a model that fails its self-test stops the process with one line."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from regionserve_contract.files import samples_path
from tests.service.conftest import SHIPPED_MODEL
from tests.service.server.test_process import run_service


@pytest.mark.parametrize("processes", [1, 2])
def test_failed_self_test_exits_with_one_line_naming_file_provider_and_error(
    tmp_path: Path, processes: int
) -> None:
    model = tmp_path / "tampered.onnx"
    shutil.copy(SHIPPED_MODEL, model)
    with np.load(samples_path(SHIPPED_MODEL)) as archive:
        arrays = dict(archive)
    arrays["sample1/output/roi_scores"][2, 3] += 0.5  # sample 0 still matches
    np.savez(samples_path(model), **arrays)
    result = run_service(model, processes)
    assert result.returncode == 2, result.stderr
    failures = [line for line in result.stderr.splitlines() if "cannot start" in line]
    assert failures == [
        f"regionserve: cannot start: self-test of {model} on CPUExecutionProvider failed: "
        "sample 1: output 'roi_scores' differs from the recorded by 0.5 (tolerance 0.0001)"
    ], result.stderr
    assert " ERROR " not in result.stderr  # the one line, not a log record and a traceback
