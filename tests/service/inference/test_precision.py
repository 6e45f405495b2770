"""REGIONSERVE_PRECISION: the float16 file on CUDA, refused at start anywhere else; the
self-test holds a float16 file to FLOAT16_TOLERANCE and a float32 one to SCORE_TOLERANCE."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from regionserve_contract.files import decomposed_variant, float16_variant
from service.inference import sessions
from service.inference.model_info import ModelLoadError
from service.inference.predictor import Predictor
from service.inference.self_test import SelfTestFailed, replay
from service.inference.sessions import CPU, CUDA, plan_sessions
from service.settings import Settings
from tests.service.conftest import SHIPPED_MODEL


def test_on_the_cpu_provider_fp16_is_refused_at_start_in_one_line() -> None:
    with pytest.raises(ModelLoadError) as refused:
        Predictor(SHIPPED_MODEL, [CUDA, CPU], precision="fp16")  # CPU-only onnxruntime here
    message = str(refused.value)
    assert message.startswith("REGIONSERVE_PRECISION=fp16 needs CUDAExecutionProvider")
    assert "CPUExecutionProvider" in message and "\n" not in message


def test_on_cuda_fp16_loads_the_float16_variant_of_the_cuda_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sessions.ort, "get_available_providers", lambda: [CUDA, CPU])
    model = tmp_path / "m.onnx"
    shutil.copy(SHIPPED_MODEL, model)
    shutil.copy(decomposed_variant(SHIPPED_MODEL), decomposed_variant(model))
    with pytest.raises(ModelLoadError, match=r"m\.decomposed\.fp16\.onnx not found: .*--precision"):
        plan_sessions(model, [CUDA, CPU], "fp16")
    shutil.copy(decomposed_variant(model), float16_variant(decomposed_variant(model)))
    plan = plan_sessions(model, [CUDA, CPU], "fp16")
    assert plan.path == tmp_path / "m.decomposed.fp16.onnx" and plan.providers == [CUDA, CPU]
    assert plan_sessions(model, [CUDA, CPU]).path == decomposed_variant(model)  # fp32: as before


def test_a_model_without_a_roi_head_has_its_float16_file_beside_it() -> None:
    assert float16_variant(Path("m.onnx")) == Path("m.fp16.onnx")


def test_the_setting_takes_fp32_and_fp16_only() -> None:
    assert Settings().precision == "fp32"
    assert Settings(precision="fp16").precision == "fp16"
    with pytest.raises(ValidationError):
        Settings(precision="int8")


@pytest.mark.parametrize(
    ("precision", "difference", "passes"),
    [("fp32", 5e-5, True), ("fp32", 3e-3, False), ("fp16", 3e-3, True), ("fp16", 2e-2, False)],
)
def test_the_self_test_tolerance_follows_the_file_precision(
    precision: str, difference: float, passes: bool
) -> None:
    recorded = {"scores": np.array([[0.25, 0.75]], np.float32)}
    samples = [({"image": np.zeros((1, 4, 4, 3), np.uint8)}, recorded)]
    answer = {"scores": recorded["scores"] + np.float32(difference)}
    if passes:
        assert replay(samples, lambda _: answer, precision) == pytest.approx(difference, rel=1e-3)
    else:
        with pytest.raises(SelfTestFailed, match="tolerance"):
            replay(samples, lambda _: answer, precision)
