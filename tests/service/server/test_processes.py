"""Several server processes on one port: each passes its self-test, answers as one process
does, the metrics add up over all of them, and SIGTERM stops them all."""

import subprocess
import time
from pathlib import Path

import httpx
import numpy as np

from tests.service.conftest import SHIPPED_MODEL, png_bytes
from tests.service.service_process import free_port, start_service

PROCESSES = 2


def metric(base: str, name: str) -> float | None:
    for line in httpx.get(f"{base}/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def server_processes(pid: int) -> list[int]:
    """The children started by multiprocessing's spawn (not its resource tracker)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def wait_all_ready(process: subprocess.Popen[bytes], base: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        assert process.poll() is None, f"the service exited with {process.returncode}"
        try:
            if metric(base, "regionserve_processes_ready") == PROCESSES:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"not all ready within {timeout_s} s"
        time.sleep(0.2)


def test_processes_serve_one_port_and_their_metrics_add_up() -> None:
    port = free_port()
    process = start_service(SHIPPED_MODEL, port, processes=PROCESSES, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_all_ready(process, base)  # a gauge each process sets: read from all of them
        workers = server_processes(process.pid)
        assert len(workers) == PROCESSES
        image = png_bytes(np.full((100, 120, 3), 240, np.uint8))
        answers = [
            httpx.post(
                f"{base}/classify-regions",
                files={"image": ("x.png", image)},
                data={"boxes": "[[10, 10, 60, 70]]"},
                timeout=30,
            )
            for _ in range(6)
        ]
        assert [a.status_code for a in answers] == [200] * 6
        assert all(a.json()["regions"] == answers[0].json()["regions"] for a in answers)
        assert (
            metric(base, 'regionserve_requests_total{route="/classify-regions",status="200"}') == 6
        )
    finally:
        process.terminate()
        code = process.wait(timeout=60)
    assert code == 0, process.stderr.read().decode()  # type: ignore[union-attr]
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
