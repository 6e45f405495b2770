"""The image built once per run, the service from the venv (what `make serve` runs) beside it,
and the figures measured on the way, printed at the end."""

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from deploy.tests.podman import IMAGE, ROOT, build_image, podman, prepare
from tests.service.service_process import free_port, wait_ready

MEASURED: dict[str, str] = {}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.section("measured")
    for name, value in MEASURED.items():
        terminalreporter.write_line(f"{name}: {value}")


@pytest.fixture(scope="session")
def image() -> str:
    base = prepare()
    start = time.monotonic()
    build_image(base)
    MEASURED["image build"] = f"{time.monotonic() - start:.0f} s"
    size = int(podman("image", "inspect", "--format", "{{.Size}}", IMAGE))
    MEASURED["image size"] = f"{size / 1e6:.0f} MB"
    return IMAGE


@pytest.fixture(scope="session")
def reference() -> Iterator[str]:
    """The service as `make serve` runs it, from the venv, on a free port."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(process, f"{base_url}/readyz")
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=60)
