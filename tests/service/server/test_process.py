"""`python -m service` as a real process: start, ready, serve, metrics, stop; and bad starts."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from tests.service.conftest import SHIPPED_MODEL, png_bytes
from tests.service.service_process import ROOT, free_port, service_env, start_service


def test_real_process_serves_and_stops() -> None:
    port = free_port()
    process = start_service(SHIPPED_MODEL, port, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read().decode()  # type: ignore[union-attr]
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "not ready within 60 s"
            time.sleep(0.1)
        image = png_bytes(np.full((100, 120, 3), 240, np.uint8))
        response = httpx.post(
            f"{base}/classify-regions",
            files={"image": ("x.png", image)},
            data={"boxes": "[[10, 10, 60, 70]]"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
        assert 'regionserve_requests_total{route="/classify-regions",status="200"} 1.0' in metrics
        assert "regionserve_model_info{" in metrics
        assert httpx.get(f"{base}/v1/model", timeout=5).json()["provider"] == "CPUExecutionProvider"
    finally:
        process.terminate()
        code = process.wait(timeout=30)
    log = process.stdout.read().decode()  # type: ignore[union-attr]
    # uvicorn drains, runs the lifespan shutdown, then re-raises SIGTERM as its exit status.
    assert "Application shutdown complete" in log, log
    assert code in (0, -signal.SIGTERM), log


def run_service(model_path: Path, processes: int = 1) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", "--port", str(free_port())],
        cwd=ROOT,
        env=service_env(model_path, processes),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_model_exits_with_one_clear_line(tmp_path: Path) -> None:
    result = run_service(tmp_path / "nope.onnx")
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"regionserve: cannot start: {tmp_path / 'nope.onnx'}: model file not found"
    )


def test_invalid_model_exits_with_one_clear_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    result = run_service(broken)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{broken}: onnxruntime cannot load it" in lines[0]


def test_service_never_imports_tensorflow_or_keras() -> None:
    code = (
        "import sys, service.__main__, service.app, service.regions.pipeline; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
