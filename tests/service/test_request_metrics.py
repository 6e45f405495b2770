from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from service.metrics import Metrics
from service.request_metrics import RequestMetrics


def broken(_: Request) -> PlainTextResponse:
    raise RuntimeError("a bug")


def fine(_: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def counted(metrics: Metrics, route: str, status: str) -> float | None:
    labels = {"route": route, "status": status}
    return metrics.registry.get_sample_value("regionserve_requests_total", labels)


def test_a_bug_becomes_a_problem_500_and_is_counted() -> None:
    metrics = Metrics()
    app = Starlette(routes=[Route("/broken", broken), Route("/fine", fine)])
    app.add_middleware(RequestMetrics, metrics=metrics)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/broken")
        assert client.get("/fine").text == "ok"
        assert client.get("/nowhere").status_code == 404
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["title"] == "Internal error"
    assert counted(metrics, "/broken", "500") == 1
    assert counted(metrics, "/fine", "200") == 1
    assert counted(metrics, "unmatched", "404") == 1
    latency = metrics.registry.get_sample_value(
        "regionserve_request_latency_seconds_count", {"route": "/fine"}
    )
    assert latency == 1
