"""`python -m service` as a real process on a free port, for the tests that need one."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_env(model_path: Path, processes: int = 1) -> dict[str, str]:
    """The environment of a test's service: its model, and a number of processes that does
    not depend on the machine's cores."""
    return {
        **os.environ,
        "REGIONSERVE_MODEL_PATH": str(model_path),
        "REGIONSERVE_PROCESSES": str(processes),
    }


def start_service(
    model_path: Path,
    port: int,
    processes: int = 1,
    settings: dict[str, str] | None = None,
    **popen: Any,
) -> subprocess.Popen[bytes]:
    """`python -m service` on the model; `settings`: more REGIONSERVE_ variables."""
    env = {**service_env(model_path, processes), **(settings or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "service", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        **popen,
    )


def wait_ready(process: subprocess.Popen[bytes], url: str, timeout_s: float = 60) -> None:
    """Until `url` answers 200; fails if the process exits first."""
    deadline = time.monotonic() + timeout_s
    while True:
        assert process.poll() is None, f"the service exited with {process.returncode}"
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"not ready within {timeout_s} s"
        time.sleep(0.1)
