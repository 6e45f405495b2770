"""Start-up fails loud: a model that fails its self-test stops the process with one line."""

import json
import shutil
from pathlib import Path

from tests.service.conftest import SHIPPED_MODEL
from tests.service.test_process import run_service


def test_failed_self_test_exits_with_one_line_naming_file_provider_and_error(
    tmp_path: Path,
) -> None:
    model = tmp_path / "tampered.onnx"
    shutil.copy(SHIPPED_MODEL, model)
    scene = json.loads(SHIPPED_MODEL.with_suffix(".selftest.json").read_text())
    wrong = ["0" if label != "0" else "1" for label in scene["labels"]]
    model.with_suffix(".selftest.json").write_text(json.dumps({**scene, "labels": wrong}))
    result = run_service(model)
    assert result.returncode == 2, result.stderr
    failures = [line for line in result.stderr.splitlines() if "cannot start" in line]
    assert failures == [
        f"regionserve: cannot start: self-test of {model} on CPUExecutionProvider failed: "
        f"labels {scene['labels']} differ from the known {wrong}"
    ], result.stderr
    assert " ERROR " not in result.stderr  # the one line, not a log record and a traceback
