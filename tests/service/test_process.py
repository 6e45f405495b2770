"""`python -m service` as a real process: start, ready, serve, metrics, stop; and bad starts."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from tests.service.conftest import SHIPPED_MODEL, png_bytes

ROOT = Path(__file__).parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_real_process_serves_and_stops() -> None:
    port = free_port()
    env = {**os.environ, "REGIONSERVE_MODEL_PATH": str(SHIPPED_MODEL)}
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
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
        assert process.wait(timeout=30) == 0


def run_service(model_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REGIONSERVE_MODEL_PATH": str(model_path)}
    return subprocess.run(
        [sys.executable, "-m", "service", "--port", str(free_port())],
        cwd=ROOT,
        env=env,
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
