"""`docker compose` with the CPU override, run by podman-compose on the image already built
(compose builds only a missing image): published on loopback, healthy, answering, and
stopping on SIGTERM with exit status 0."""

import os
import subprocess
from collections.abc import Iterator

import pytest

from deploy.tests.classify import labels
from deploy.tests.conftest import MEASURED
from deploy.tests.podman import ROOT, inspect, podman, run, wait_ready
from tests.service.service_process import free_port

PROJECT = "regionserve-image-test"
COMPOSE = str(ROOT / ".venv-deploy" / "bin" / "podman-compose")
FILES = ("-f", "docker-compose.yml", "-f", "docker-compose.cpu.yml")
CONTAINER = f"{PROJECT}_regionserve_1"


def compose(*args: str) -> str:
    return run(COMPOSE, "--project-name", PROJECT, *FILES, *args)


@pytest.fixture(scope="module")
def composed(image: str) -> Iterator[str]:
    port = free_port()
    os.environ["REGIONSERVE_HOST_PORT"] = str(port)
    compose("up", "--detach")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        compose("down", "--timeout", "35")
        del os.environ["REGIONSERVE_HOST_PORT"]


def test_compose_runs_the_cpu_image_on_loopback(composed: str, reference: str) -> None:
    MEASURED["start to ready (compose up)"] = f"{wait_ready(composed, CONTAINER):.1f} s"
    config = inspect(CONTAINER)
    assert config["ImageName"] == "localhost/regionserve:cpu"
    bindings = config["HostConfig"]["PortBindings"]["8000/tcp"]
    assert [binding["HostIp"] for binding in bindings] == ["127.0.0.1"]
    assert 'REGIONSERVE_PROVIDERS=["CPUExecutionProvider"]' in config["Config"]["Env"]
    podman("healthcheck", "run", CONTAINER)
    assert labels(composed, "boxes") == labels(reference, "boxes")
    compose("stop", "--timeout", "35")
    assert inspect(CONTAINER)["State"]["ExitCode"] == 0


def test_compose_files_parse_with_the_gpu_reservation_reset() -> None:
    merged = subprocess.run(
        [COMPOSE, *FILES, "config"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "nvidia" not in merged and "image: regionserve:cpu" in merged
