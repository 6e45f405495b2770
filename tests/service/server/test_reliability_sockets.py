"""Slow, idle, malformed and vanishing clients against a real `python -m service` process."""

import select
import socket
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import numpy as np
import pytest

from service.server.guarded_protocol import PROBE_SLOTS
from tests.service.conftest import png_bytes
from tests.service.served import RawResponse, Served, parse_response, read_until_closed, served

SHORT = 1.0  # each timeout of the process under test, in seconds
MAX_CONNECTIONS = 8
JSON_HEAD = (
    b"POST /classify-regions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n"
)
MULTIPART_HEAD = (
    b"POST /classify-regions HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served(
        tmp_path_factory.mktemp("logs"),
        keep_alive_timeout_s=SHORT,
        header_timeout_s=SHORT,
        body_timeout_s=SHORT,
        max_header_bytes=4096,
        max_connections=MAX_CONNECTIONS,
        inference_workers=1,
    ) as running:
        yield running


def send_slowly(sock: socket.socket, first: bytes, more: bytes, every_s: float) -> None:
    """`first`, then `more` every `every_s` until the server answers (or 5 s pass)."""
    sock.sendall(first)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if select.select([sock], [], [], every_s)[0]:
            return  # an answer is waiting: stop before a send could reset the connection
        if more:
            sock.sendall(more)


def test_an_idle_connection_is_closed_after_the_keep_alive_timeout(service: Served) -> None:
    with service.connect() as idle:
        start = time.monotonic()
        assert httpx.get(f"{service.base}/healthz", timeout=5).status_code == 200
        assert read_until_closed(idle) == b""
        assert SHORT - 0.1 < time.monotonic() - start < SHORT + 2


def test_a_trickled_head_gets_408_within_the_header_timeout(service: Served) -> None:
    with service.connect() as slow:
        start = time.monotonic()
        send_slowly(slow, b"GET /healthz HTTP/1.1\r\n", b"X-Slow: 1\r\n", every_s=0.2)
        response = parse_response(read_until_closed(slow))
    assert response.status == 408
    assert response.problem()["detail"] == "the request head did not arrive within 1 s"
    assert time.monotonic() - start < SHORT + 2


@pytest.mark.parametrize("trickle", [b"", b"a"], ids=["stalled", "one byte at a time"])
def test_a_body_that_does_not_arrive_in_time_gets_408(service: Served, trickle: bytes) -> None:
    """A Content-Length longer than the body sent, with nothing or a trickle after it."""
    counted = service.counted("/classify-regions", 408)
    with service.connect() as slow:
        send_slowly(slow, JSON_HEAD % 1000 + b'{"image": "', trickle, every_s=0.2)
        response = parse_response(read_until_closed(slow))
    assert response.status == 408
    assert response.problem()["detail"] == "the request body did not arrive within 1 s"
    assert response.headers["connection"] == "close"
    assert service.counted("/classify-regions", 408) == counted + 1


def test_malformed_framing_gets_a_problem_400(service: Served) -> None:
    with service.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n")
        response = parse_response(read_until_closed(sock))
    assert response.status == 400
    assert str(response.problem()["detail"]).startswith("malformed HTTP request: ")


def test_a_head_past_the_size_limit_gets_431(service: Served) -> None:
    with service.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 5000)
        response = parse_response(read_until_closed(sock))
    assert response.status == 431
    assert response.problem()["detail"] == "the request head passes the limit of 4096 bytes"


def test_connections_past_the_limit_get_503_and_later_ones_are_served(service: Served) -> None:
    """Past the limit a connection is answered 503 for anything but a probe; past the probe
    slots too, at once, before it sends a byte."""
    held = [service.connect() for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.1)  # all accepted
        with service.connect() as extra:
            extra.sendall(b"GET /v1/model HTTP/1.1\r\nHost: x\r\n\r\n")
            response = parse_response(read_until_closed(extra))
        spares = [service.connect() for _ in range(PROBE_SLOTS)]
        time.sleep(0.1)
        with service.connect() as past_spares:
            at_once = parse_response(read_until_closed(past_spares))
        for sock in spares:
            sock.close()
    finally:
        for sock in held:
            sock.close()
    for refused in (response, at_once):
        assert refused.status == 503 and refused.headers["retry-after"] == "1"
        assert refused.problem()["detail"] == "the server holds its limit of 8 connections"
    time.sleep(0.1)  # the server has seen them close
    assert httpx.get(f"{service.base}/healthz", timeout=5).status_code == 200


def test_a_client_gone_mid_upload_is_counted_499_not_logged_as_an_error(service: Served) -> None:
    gone = service.counted("/classify-regions", 499)
    with service.connect() as sock:
        sock.sendall(JSON_HEAD % 100_000 + b'{"image": "' + b"A" * 1000)
        time.sleep(0.1)
    wait_for(lambda: service.counted("/classify-regions", 499) == gone + 1)
    assert service.counted("/classify-regions", 500) == 0
    assert "ERROR" not in service.log() and "Traceback" not in service.log()


def test_a_request_whose_client_has_gone_never_starts_inference(service: Served) -> None:
    """One inference worker, busy with a slow request and another queued behind it; a third
    request queues too and its client leaves: only the two slow ones run."""
    runs = service.sample("regionserve_batch_size_count")
    gone = service.counted("/classify-regions", 499)
    slow_body = heavy_request()
    slow = [threading.Thread(target=post_raw, args=(service, slow_body)) for _ in range(2)]
    for thread in slow:
        thread.start()
    wait_for(lambda: service.sample("regionserve_queue_depth") == 1)  # one runs, one waits
    body = raw_multipart(png_bytes(np.full((64, 64, 3), 200, np.uint8)), "[[0, 0, 10, 10]]")
    with service.connect() as leaving:
        leaving.sendall(body)
        wait_for(lambda: service.sample("regionserve_queue_depth") == 2)  # queued
    for thread in slow:
        thread.join()
    wait_for(lambda: service.counted("/classify-regions", 499) == gone + 1)
    assert service.sample("regionserve_batch_size_count") == runs + 2


def heavy_request(side: int = 1024, boxes: int = 256) -> bytes:
    """A request for about a second of inference on 2 cores: a large image, many boxes."""
    rng = np.random.default_rng(0)
    corners = rng.integers(0, side - 128, (boxes, 2))
    found = np.concatenate([corners, corners + rng.integers(16, 128, (boxes, 2))], axis=1)
    noise = rng.integers(0, 256, (side, side, 3), np.uint8)
    return raw_multipart(png_bytes(noise), str(found.tolist()))


def post_raw(service: Served, request: bytes) -> RawResponse:
    """One request on its own connection, asking the server to close it after answering."""
    with service.connect(timeout_s=60) as sock:
        sock.sendall(request.replace(b"Host: x\r\n", b"Host: x\r\nConnection: close\r\n", 1))
        return parse_response(read_until_closed(sock))


def raw_multipart(image: bytes, boxes: str) -> bytes:
    """A whole POST /classify-regions, multipart, as bytes on the wire."""
    request = httpx.Request(
        "POST",
        "http://x/classify-regions",
        files={"image": ("x.png", image)},
        data={"boxes": boxes},
    )
    body = request.read()
    content_type = request.headers["content-type"].encode()
    return MULTIPART_HEAD % (content_type, len(body)) + body


def wait_for(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
