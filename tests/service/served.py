"""`python -m service` as a real process with settings from the environment, and raw sockets."""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.service.conftest import SHIPPED_MODEL
from tests.service.server.test_process import free_port

ROOT = Path(__file__).parents[2]


@dataclass(frozen=True)
class Served:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text()

    def connect(self, timeout_s: float = 10.0) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout_s)

    def counted(self, route: str, status: int) -> float:
        """regionserve_requests_total for one route and status (0 when absent)."""
        return self.sample(f'regionserve_requests_total{{route="{route}",status="{status}"}}')

    def sample(self, name: str) -> float:
        for line in httpx.get(f"{self.base}/metrics", timeout=10).text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        return 0.0


@contextmanager
def served(log_dir: Path, **settings: object) -> Iterator[Served]:
    """A ready service with REGIONSERVE_<NAME> = value for each setting; stopped after."""
    port, log_path = free_port(), log_dir / f"service-{time.monotonic_ns()}.log"
    env = {**os.environ, "REGIONSERVE_MODEL_PATH": str(SHIPPED_MODEL)}
    env.update({f"REGIONSERVE_{name.upper()}": str(value) for name, value in settings.items()})
    command = [sys.executable, "-m", "service", "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    running = Served(process, port, log_path)
    try:
        wait_ready(running)
        yield running
    finally:
        process.terminate()
        process.wait(timeout=60)


def wait_ready(service: Served, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        assert service.process.poll() is None, service.log()
        try:
            if httpx.get(f"{service.base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "not ready in time: " + service.log()
        time.sleep(0.1)


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def problem(self) -> dict[str, object]:
        assert self.headers["content-type"] == "application/problem+json", self.headers
        body: dict[str, object] = json.loads(self.body)
        assert set(body) == {"type", "title", "status", "detail"}
        assert body["status"] == self.status
        return body


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def parse_response(raw: bytes) -> RawResponse:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(int(status_line.split()[1]), headers, body)
