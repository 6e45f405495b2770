"""Which file and providers the sessions get: CUDA takes the decomposed RoI lowering."""

import shutil
from pathlib import Path

import pytest

from regionserve_contract.files import decomposed_variant
from service.inference import sessions
from service.inference.sessions import CPU, CUDA, plan_sessions
from tests.service.conftest import SHIPPED_MODEL


def test_the_shipped_model_has_its_cuda_variant_beside_it() -> None:
    assert decomposed_variant(SHIPPED_MODEL).is_file()


def test_cuda_loads_the_decomposed_variant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sessions.ort, "get_available_providers", lambda: [CUDA, CPU])
    plan = plan_sessions(SHIPPED_MODEL, [CUDA, CPU])
    assert plan.path == decomposed_variant(SHIPPED_MODEL) and plan.providers == [CUDA, CPU]


def test_cpu_loads_the_file_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sessions.ort, "get_available_providers", lambda: [CUDA, CPU])
    plan = plan_sessions(SHIPPED_MODEL, [CPU])
    assert plan.path == SHIPPED_MODEL and plan.providers == [CPU]


def test_without_a_variant_cuda_loads_the_file_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sessions.ort, "get_available_providers", lambda: [CUDA, CPU])
    alone = tmp_path / "alone.onnx"
    shutil.copy(SHIPPED_MODEL, alone)
    assert plan_sessions(alone, [CUDA, CPU]).path == alone


def test_without_cuda_in_onnxruntime_the_cpu_serves() -> None:
    plan = plan_sessions(SHIPPED_MODEL, [CUDA, CPU])  # this machine's CPU-only onnxruntime
    assert plan.path == SHIPPED_MODEL and plan.providers == [CPU]
