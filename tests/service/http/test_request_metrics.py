from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from service.http.request_metrics import RequestMetrics
from service.metrics import Metrics


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


def test_fastapi_plain_routes_are_labelled_by_their_path() -> None:
    """FastAPI names only its APIRoutes in the scope; /openapi.json is a plain route."""
    metrics = Metrics()
    app = FastAPI()
    app.router.routes.append(Route("/fine", fine, methods=["POST"]))
    app.add_middleware(RequestMetrics, metrics=metrics, routes=app.routes)
    with TestClient(app) as client:
        assert client.get("/openapi.json").status_code == 200
        assert client.post("/fine").text == "ok"
        assert client.get("/fine").status_code == 405
        assert client.get("/nowhere").status_code == 404
    assert counted(metrics, "/openapi.json", "200") == 1
    assert counted(metrics, "/fine", "200") == 1
    assert counted(metrics, "/fine", "405") == 1
    assert counted(metrics, "unmatched", "404") == 1
