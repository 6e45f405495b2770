"""CORS, gzip, request ids and the access log, through real `python -m service` processes:
one with the defaults (text log, no CORS), one with listed origins and a JSON log."""

import gzip
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.service.served import Served, parse_response, read_until_closed, served
from tests.service.server.test_reliability_sockets import JSON_HEAD

EXAMPLE = Path(__file__).parents[3] / "models" / "example.png"
PAGE = "https://page.example"
OTHER_PAGE = "http://localhost:5173"
STRANGER = "https://stranger.example"
GENERATED_ID = re.compile(r"[0-9a-f]{32}")
SHORT = 1.0  # the guard's timeouts in the text-log process, in seconds


@pytest.fixture(scope="module")
def text_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served(
        tmp_path_factory.mktemp("logs"),
        header_timeout_s=SHORT,
        body_timeout_s=SHORT,
        max_header_bytes=4096,
    ) as running:
        yield running


@pytest.fixture(scope="module")
def json_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served(
        tmp_path_factory.mktemp("logs"), cors_origins=f"{PAGE},{OTHER_PAGE}", log_format="json"
    ) as running:
        yield running


def classify(
    service: Served, headers: dict[str, str] | None = None, **fields: str
) -> httpx.Response:
    """models/example.png in one multipart request; httpx asks for gzip unless told not to."""
    image = {"image": ("example.png", EXAMPLE.read_bytes(), "image/png")}
    url = f"{service.base}/classify-regions"
    return httpx.post(url, files=image, data=fields, headers=headers, timeout=60)


def lines_with(service: Served, request_id: str, timeout_s: float = 10.0) -> list[str]:
    """The log lines naming `request_id`, once its access line is written (after the answer)."""
    deadline = time.monotonic() + timeout_s
    while True:
        lines = [line for line in service.log().splitlines() if request_id in line]
        if any("regionserve.access" in line for line in lines):
            return lines
        assert time.monotonic() < deadline, f"no access line for {request_id}: {service.log()}"
        time.sleep(0.05)


def json_access_line(service: Served, request_id: str) -> dict[str, object]:
    records = [json.loads(line) for line in lines_with(service, request_id)]
    access = [r for r in records if r["logger"] == "regionserve.access"]
    assert len(access) == 1, records
    return access[0]


def preflight(service: Served, origin: str, request_headers: str | None = None) -> httpx.Response:
    """A browser's preflight for a POST /classify-regions from a page at `origin`."""
    headers = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    if request_headers is not None:
        headers["Access-Control-Request-Headers"] = request_headers
    return httpx.options(f"{service.base}/classify-regions", headers=headers)


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


# CORS


def test_without_listed_origins_a_preflight_gets_405_and_no_cors_header(
    text_service: Served,
) -> None:
    refused = preflight(text_service, PAGE)
    assert refused.status_code == 405
    assert refused.headers["content-type"] == "application/problem+json"
    assert cors_headers(refused) == {}
    answer = httpx.get(f"{text_service.base}/healthz", headers={"Origin": PAGE})
    assert answer.status_code == 200 and cors_headers(answer) == {}


@pytest.mark.parametrize("origin", [PAGE, OTHER_PAGE])
def test_a_preflight_from_a_listed_origin_is_allowed(json_service: Served, origin: str) -> None:
    allowed = preflight(json_service, origin, "content-type, x-request-id")
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == origin
    assert allowed.headers["access-control-allow-methods"] == "GET, POST"
    allowed_headers = allowed.headers["access-control-allow-headers"].split(", ")
    assert {"Content-Type", "X-Request-ID"} <= set(allowed_headers)


def test_a_preflight_from_another_origin_gets_a_problem_and_no_cors_header(
    json_service: Served,
) -> None:
    refused = preflight(json_service, STRANGER)
    assert refused.status_code == 400
    assert cors_headers(refused) == {}
    assert refused.headers["content-type"] == "application/problem+json"
    detail = "cross-origin request refused: its origin is not allowed"
    assert refused.json()["detail"] == detail
    logged = json_access_line(json_service, refused.headers["x-request-id"])
    assert logged["status"] == 400 and logged["reason"] == detail


def test_a_listed_origin_may_read_the_answer_and_its_request_id(json_service: Served) -> None:
    answer = classify(json_service, {"Origin": PAGE}, boxes="[[0, 0, 60, 60]]")
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == PAGE
    exposed = answer.headers["access-control-expose-headers"].split(", ")
    assert "X-Request-ID" in exposed and "Retry-After" in exposed
    stranger = classify(json_service, {"Origin": STRANGER}, boxes="[[0, 0, 60, 60]]")
    assert stranger.status_code == 200 and cors_headers(stranger) == {}


# gzip


def test_a_large_answer_is_gzipped_for_a_client_that_accepts_it(text_service: Served) -> None:
    plain = classify(text_service, {"Accept-Encoding": "identity"}, mode="superpixels")
    zipped = httpx.post(  # the raw bytes on the wire, not decoded by httpx
        f"{text_service.base}/classify-regions",
        files={"image": ("example.png", EXAMPLE.read_bytes(), "image/png")},
        data={"mode": "superpixels"},
        headers={"Accept-Encoding": "gzip"},
        timeout=60,
    )
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    wire_bytes = int(zipped.headers["content-length"])
    assert wire_bytes < len(plain.content) / 3
    unzipped, identity = zipped.json(), plain.json()  # httpx decodes the gzip body
    assert unzipped["regions"] == identity["regions"]
    assert len(gzip.compress(plain.content)) > wire_bytes / 2  # it is gzip of the same size


def test_a_small_answer_is_not_compressed(text_service: Served) -> None:
    small = classify(text_service, {"Accept-Encoding": "gzip"}, boxes="[[0, 0, 60, 60]]")
    assert small.status_code == 200
    assert "content-encoding" not in small.headers
    assert len(small.content) < 4096


# Request ids


def test_a_clients_request_id_is_echoed_and_in_its_log_lines(text_service: Served) -> None:
    answer = classify(text_service, {"X-Request-ID": "page-7f3a.1"}, boxes="[[0, 0, 60, 60]]")
    assert answer.headers["x-request-id"] == "page-7f3a.1"
    (line,) = lines_with(text_service, "page-7f3a.1")
    assert " regionserve.access INFO [page-7f3a.1] POST /classify-regions 200 in " in line
    assert line.endswith(" ms, 1 regions")


def test_a_request_id_is_generated_when_none_is_sent(text_service: Served) -> None:
    first = httpx.get(f"{text_service.base}/healthz")
    second = httpx.get(f"{text_service.base}/healthz")
    assert GENERATED_ID.fullmatch(first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    lines_with(text_service, first.headers["x-request-id"])


@pytest.mark.parametrize(
    "unsafe",
    ["two words", 'quote"d', "a" * 129, "<script>", "tab\there", "semi;colon"],
)
def test_an_unsafe_request_id_is_replaced(text_service: Served, unsafe: str) -> None:
    answer = httpx.get(f"{text_service.base}/healthz", headers={"X-Request-ID": unsafe})
    assert GENERATED_ID.fullmatch(answer.headers["x-request-id"])
    assert unsafe not in text_service.log()


def test_an_error_answer_carries_the_id_and_its_reason_is_logged(text_service: Served) -> None:
    image = {"image": ("x.png", b"not an image", "image/png")}
    answer = httpx.post(
        f"{text_service.base}/classify-regions", files=image, headers={"X-Request-ID": "bad-1"}
    )
    assert answer.status_code == 400 and answer.headers["x-request-id"] == "bad-1"
    (line,) = lines_with(text_service, "bad-1")
    assert line.endswith(f" ms: {answer.json()['detail']}")


def test_a_v2_error_carries_the_id_and_its_reason_is_logged(text_service: Served) -> None:
    answer = httpx.get(f"{text_service.base}/v2/models/nope", headers={"X-Request-ID": "v2-1"})
    assert answer.status_code == 404 and answer.headers["x-request-id"] == "v2-1"
    (line,) = lines_with(text_service, "v2-1")
    assert "GET /v2/models/{name} 404 in " in line
    assert line.endswith(f" ms: {answer.json()['error']}")


def test_the_guards_own_answers_carry_an_id_and_are_logged(text_service: Served) -> None:
    with text_service.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 5000)
        too_big = parse_response(read_until_closed(sock))
    assert too_big.status == 431
    request_id = too_big.headers["x-request-id"]
    assert GENERATED_ID.fullmatch(request_id)
    (line,) = lines_with(text_service, request_id)
    assert line.endswith(f"[{request_id}] - - 431: {too_big.problem()['detail']}")


def test_a_body_cut_off_keeps_the_clients_id_in_the_answer_and_the_log(
    text_service: Served,
) -> None:
    head = JSON_HEAD.replace(b"Host: x\r\n", b"Host: x\r\nX-Request-ID: slow-body-1\r\n")
    with text_service.connect() as sock:
        sock.sendall(head % 1000 + b'{"image": "')
        cut = parse_response(read_until_closed(sock))
    assert cut.status == 408 and cut.headers["x-request-id"] == "slow-body-1"
    (line,) = lines_with(text_service, "slow-body-1")
    assert "POST /classify-regions 408 in " in line
    assert line.endswith(": the request body did not arrive within 1 s")


# JSON log


def test_json_log_lines_parse_and_the_access_line_has_every_field(json_service: Served) -> None:
    answer = classify(json_service, {"X-Request-ID": "json-ok-1"}, mode="superpixels")
    logged = json_access_line(json_service, "json-ok-1")
    assert logged["method"] == "POST" and logged["route"] == "/classify-regions"
    assert logged["status"] == 200 and logged["reason"] is None
    assert logged["regions"] == len(answer.json()["regions"])
    assert isinstance(logged["latency_ms"], float) and logged["latency_ms"] > 0
    assert logged["level"] == "INFO" and logged["request_id"] == "json-ok-1"
    for line in json_service.log().splitlines():
        record = json.loads(line)  # every line, uvicorn's own included
        assert {"time", "level", "logger", "message"} <= set(record)


def test_json_log_says_why_a_request_was_refused(json_service: Served) -> None:
    answer = classify(json_service, {"X-Request-ID": "json-422"}, top_k="0")
    assert answer.status_code == 422
    logged = json_access_line(json_service, "json-422")
    assert logged["status"] == 422 and logged["reason"] == answer.json()["detail"]
    assert logged["regions"] is None
