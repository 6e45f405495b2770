"""Deadlines that save work, and a shutdown that fits its grace period, in a real process."""

import json
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.service.conftest import png_bytes
from tests.service.served import Served, served
from tests.service.server.test_reliability_sockets import wait_for

CONCURRENCY = 32


def boxes_request(side: int, boxes: int) -> tuple[bytes, str]:
    """A random image of `side` px with `boxes` random boxes."""
    rng = np.random.default_rng(3)
    corners = rng.integers(0, side - 96, (boxes, 2))
    found = np.concatenate([corners, corners + rng.integers(16, 96, (boxes, 2))], axis=1)
    return png_bytes(rng.integers(0, 256, (side, side, 3), np.uint8)), json.dumps(found.tolist())


def post_all(service: Served, count: int) -> list[httpx.Response]:
    image, boxes = boxes_request(side=1024, boxes=128)  # 32 of them: several s on 2 cores

    def post(_: int) -> httpx.Response:
        files, data = {"image": ("x.png", image)}, {"boxes": boxes}
        return httpx.post(f"{service.base}/classify-regions", files=files, data=data, timeout=60)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(post, range(count)))


@pytest.fixture(scope="module")
def hurried(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served(tmp_path_factory.mktemp("logs"), request_timeout_s=1) as running:
        yield running


def test_no_request_past_its_deadline_is_computed(hurried: Served) -> None:
    """32 at once against a 1 s deadline: every inference run is an answer; the rest were
    refused before running."""
    runs = hurried.sample("regionserve_batch_size_count")
    answers = post_all(hurried, CONCURRENCY)
    served_ok = [r for r in answers if r.status_code == 200]
    expired = [r for r in answers if r.status_code == 503]
    assert len(served_ok) + len(expired) == CONCURRENCY
    assert served_ok and expired  # the load is past what 1 s allows, and some fit
    assert {r.json()["detail"] for r in expired} == {"inference did not start within 1 s"}
    assert {r.headers["retry-after"] for r in expired} == {"1"}
    assert hurried.sample("regionserve_batch_size_count") - runs == len(served_ok)


def test_shutdown_under_load_fits_the_grace_period(tmp_path: Path) -> None:
    """48 requests in flight, a 2 s grace: those unfinished by then get 503 problem+json, the
    runs already started finish, and the process is gone well within compose's margin."""
    workers = 2
    with (
        ThreadPoolExecutor(48) as pool,
        served(tmp_path, shutdown_grace_s=2, inference_workers=workers) as service,
    ):
        image, boxes = boxes_request(side=768, boxes=128)
        files, data = {"image": ("x.png", image)}, {"boxes": boxes}
        url = f"{service.base}/classify-regions"
        pending = [
            pool.submit(httpx.post, url, files=files, data=data, timeout=60) for _ in range(48)
        ]
        wait_for(lambda: received(service) >= 48 - workers)  # all in: 2 running, 46 queued
        service.process.send_signal(signal.SIGTERM)
        start = time.monotonic()
        service.process.wait(timeout=30)
        stopped_in = time.monotonic() - start
        answers = [p.result() for p in pending]
    statuses = [r.status_code for r in answers]
    assert set(statuses) == {200, 503}, statuses
    refused = [r for r in answers if r.status_code == 503]
    assert {r.json()["detail"] for r in refused} == {"the server is stopping"}
    assert {r.headers["content-type"] for r in refused} == {"application/problem+json"}
    assert stopped_in < 2 + 3, stopped_in  # the grace, then at most a run and the lifespan
    assert "Traceback" not in service.log()


def received(service: Served) -> float:
    """Requests queued or answered (those running, at most one per worker, are neither)."""
    queued = service.sample("regionserve_queue_depth")
    return queued + service.counted("/classify-regions", 200)
