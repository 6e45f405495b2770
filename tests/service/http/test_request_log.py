"""RequestLog on its own, around RequestMetrics and an app that fails: the records written
while a request is served carry its id (test_http_layers.py runs the real service)."""

import logging

import pytest
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from service.http.logs import RequestIdFilter, formatter
from service.http.request_context import request_id_from
from service.http.request_log import RequestLog
from service.http.request_metrics import RequestMetrics
from service.metrics import Metrics
from service.settings import Settings


async def failing_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("a bug")


def test_every_record_of_a_failing_request_names_its_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.handler.addFilter(RequestIdFilter())
    app = RequestLog(RequestMetrics(failing_app, Metrics()))
    client = TestClient(app, raise_server_exceptions=False)
    with caplog.at_level(logging.INFO):
        response = client.post("/classify-regions", headers={"X-Request-ID": "fails-1"})
        logging.getLogger("regionserve").info("after the request")
    assert response.status_code == 500 and response.headers["x-request-id"] == "fails-1"
    records = [r for r in caplog.records if r.name.startswith("regionserve")]
    failure, access, after = records
    assert failure.getMessage() == "unhandled error in POST /classify-regions"
    assert failure.exc_info is not None
    took = access.__dict__["latency_ms"]
    reason = "the server failed; see its log"
    assert access.getMessage() == f"POST unmatched 500 in {took:.1f} ms: {reason}"
    assert access.levelno == logging.WARNING
    assert [getattr(r, "request_id", None) for r in records] == ["fails-1", "fails-1", None]
    text = formatter("text")
    assert "[fails-1] unhandled error in POST /classify-regions" in text.format(failure)
    assert text.format(after).endswith(" regionserve INFO [-] after the request")


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("a", True),
        ("7c9e6679-7425-40de-944b-e07fc1f90ae7", True),
        ("trace:abc/def+ghi=@x_y.z", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("", False),
        ("two words", False),
        ("line\nbreak", False),
        ("é", False),
        (None, False),
    ],
)
def test_a_request_id_is_kept_only_when_safe(sent: str | None, kept: bool) -> None:
    assert (request_id_from(sent) == sent) is kept
    assert len(request_id_from(None)) == 32


@pytest.mark.parametrize(
    ("value", "origins"),
    [
        ("https://a.example", ["https://a.example"]),
        (
            " https://a.example , http://localhost:5173 ",
            ["https://a.example", "http://localhost:5173"],
        ),
        ('["https://a.example", "*"]', ["https://a.example", "*"]),
        ("", []),
    ],
)
def test_cors_origins_are_read_as_a_list(
    monkeypatch: pytest.MonkeyPatch, value: str, origins: list[str]
) -> None:
    monkeypatch.setenv("REGIONSERVE_CORS_ORIGINS", value)
    assert Settings().cors_origins == origins
