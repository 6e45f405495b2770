"""The CPU image built from the unchanged Dockerfile, run as a container: its user, health
check, read-only root filesystem, answers equal to `make serve`'s, and a graceful SIGTERM."""

import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import pytest

from deploy.tests.classify import FIELDS_BY_MODE, classify, labels
from deploy.tests.conftest import MEASURED
from deploy.tests.podman import container, inspect, podman, wait_exit, wait_ready
from service.settings import Settings

NAME = "regionserve-image-test"
GRACE_S = Settings().shutdown_grace_s


@pytest.fixture(scope="module")
def served(image: str) -> Iterator[str]:
    with container(NAME) as base_url:
        MEASURED["start to ready (podman run)"] = f"{wait_ready(base_url, NAME):.1f} s"
        yield base_url


def test_runs_as_a_numeric_non_root_user(served: str) -> None:
    assert inspect(NAME)["Config"]["User"] == "10001:10001"
    assert podman("exec", NAME, "id", "-u").strip() == "10001"
    assert podman("exec", NAME, "sh", "-c", 'test -d "$HOME" && echo "$HOME"').strip()


def test_healthcheck_passes_once_ready(served: str) -> None:
    assert "readyz" in " ".join(inspect(NAME)["Config"]["Healthcheck"]["Test"])
    podman("healthcheck", "run", NAME)  # exit status 0: healthy
    assert inspect(NAME)["State"]["Health"]["Status"] == "healthy"


def test_serves_from_a_read_only_root_filesystem(served: str) -> None:
    mounts = [line.split() for line in podman("exec", NAME, "cat", "/proc/mounts").splitlines()]
    root_options = next(options for _, point, _, options, *_ in mounts if point == "/")
    assert root_options.split(",")[0] == "ro"
    assert classify(served, "boxes").status_code == 200


@pytest.mark.parametrize("mode", FIELDS_BY_MODE)
def test_each_mode_answers_the_labels_of_make_serve(served: str, reference: str, mode: str) -> None:
    expected = labels(reference, mode)
    assert expected or mode != "boxes"
    assert labels(served, mode) == expected


def test_sigterm_lets_the_requests_in_flight_finish(image: str) -> None:
    name = f"{NAME}-sigterm"
    with container(name) as base_url, ThreadPoolExecutor(6) as pool:
        wait_ready(base_url, name)

        def answer() -> tuple[int, float]:
            status = classify(base_url, "proposals").status_code
            return status, time.monotonic()

        answers = [pool.submit(answer) for _ in range(6)]
        wait(answers, return_when=FIRST_COMPLETED)
        signalled = time.monotonic()
        podman("kill", "--signal", "TERM", name)
        code = wait_exit(name, timeout_s=GRACE_S + 30)
        stopped_s = time.monotonic() - signalled
        results = [a.result() for a in answers]
    MEASURED["SIGTERM to exit, 6 requests in flight"] = f"{stopped_s:.1f} s"
    assert [status for status, _ in results] == [200] * 6
    assert sum(done > signalled for _, done in results) >= 2  # in flight at SIGTERM
    assert code == 0
    assert stopped_s < GRACE_S
