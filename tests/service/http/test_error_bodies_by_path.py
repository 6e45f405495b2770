"""A failure no handler caught is answered in the path's protocol: {"error"} on /v2 (the Open
Inference Protocol), problem+json on the region API; both counted as 500."""

import pytest
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from service.http.request_metrics import RequestMetrics
from service.metrics import Metrics


async def failing_app(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("a bug")


@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [
        ("/v2/models/m/infer", {"error": "the server failed; see its log"}, "application/json"),
        (
            "/classify-regions",
            {
                "type": "about:blank",
                "title": "Internal error",
                "status": 500,
                "detail": "the server failed; see its log",
            },
            "application/problem+json",
        ),
    ],
)
def test_an_uncaught_failure_answers_in_the_paths_protocol(
    path: str, body: dict, content_type: str
) -> None:
    metrics = Metrics()
    client = TestClient(RequestMetrics(failing_app, metrics), raise_server_exceptions=False)
    response = client.post(path)
    assert response.status_code == 500
    assert response.headers["content-type"] == content_type
    assert response.json() == body
    counted = metrics.requests.labels("unmatched", "500")._value.get()
    assert counted == 1
