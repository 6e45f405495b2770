"""Podman as the image tests drive it: commands, the image build, and containers' state."""

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.service.service_process import free_port

ROOT = Path(__file__).parents[2]
SETUP = ROOT / "deploy" / "podman" / "setup.sh"
WORK = ROOT / "build" / "image-test"
IMAGE = "localhost/regionserve:cpu"


def run(*command: str, timeout_s: float = 600, check: bool = True) -> str:
    """A command's standard output; its whole output in the failure when `check` is set."""
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
    failure = f"{command} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert not check or done.returncode == 0, failure
    return done.stdout


def podman(*args: str, timeout_s: float = 600, check: bool = True) -> str:
    return run("podman", *args, timeout_s=timeout_s, check=check)


def prepare() -> str:
    """Runs setup.sh (packages, Podman's configuration, the local base) and takes its
    environment; returns the base image's name."""
    printed = run("bash", str(SETUP)).splitlines()
    values = dict(line.split("=", 1) for line in printed if "=" in line)
    os.environ["CONTAINERS_CONF"] = values["CONTAINERS_CONF"]
    return values["BASE_IMAGE"]


def build_image(base: str) -> None:
    """The CPU image from the unchanged Dockerfile on `base`, pip's settings as secrets."""
    podman(
        "build", "--format", "docker", "--tag", IMAGE,
        "--build-arg", "VARIANT=cpu", "--build-arg", f"CPU_BASE={base}",
        "--secret", f"id=pip_conf,src={WORK / 'pip.conf'}",
        "--secret", f"id=ca_bundle,src={WORK / 'ca-bundle.crt'}",
        ".",
        timeout_s=1200,
    )  # fmt: skip


def inspect(name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = json.loads(podman("inspect", name))
    return found[0]


def wait_ready(base_url: str, container: str, timeout_s: float = 120) -> float:
    """Seconds until `/readyz` answers 200; fails if the container stops first."""
    start = time.monotonic()
    while True:
        state = inspect(container)["State"]
        assert state["Running"], f"{container} stopped: {podman('logs', container)}"
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return time.monotonic() - start
        except httpx.TransportError:
            pass
        assert time.monotonic() - start < timeout_s, podman("logs", container)
        time.sleep(0.2)


def wait_exit(container: str, timeout_s: float) -> int:
    return int(podman("wait", container, timeout_s=timeout_s).strip())


@contextmanager
def container(name: str, *options: str) -> Iterator[str]:
    """The image running as `name` with a read-only root filesystem, published on a free
    loopback port; yields its base URL and removes it after."""
    port = free_port()
    podman("rm", "--force", "--ignore", name)
    podman(
        "run", "--detach", "--name", name, "--read-only",
        "--publish", f"127.0.0.1:{port}:8000", *options, IMAGE,
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        podman("rm", "--force", "--ignore", name)
