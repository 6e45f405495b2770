"""Requests by route and status, and their latency: a pure ASGI middleware.

Starlette's `@app.middleware("http")` runs every request in an extra task and pipes the
response through a memory stream; this wraps `send` instead and costs a function call.

A client gone before its answer is counted 499, or 408 where the server cut its body off:
the client's doing, not a server error (the access log, `service.request_log`, says so).
A request still unanswered when uvicorn's shutdown grace period ends (it cancels the task)
is answered 503.
"""

import asyncio
import logging
import time
from collections.abc import Sequence

from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.errors import problem
from service.http_protocol import ANSWERED_BY_SERVER
from service.metrics import Metrics
from service.v2.errors import error_response, is_v2_path

log = logging.getLogger("regionserve")

# nginx's status for a client that closed its connection before the answer.
CLIENT_CLOSED_REQUEST = 499


def error(
    scope: Scope, status: int, title: str, detail: str, retry_after: int | None = None
) -> Response:
    """The error body of the path's protocol: `{"error"}` on /v2, problem+json elsewhere."""
    if is_v2_path(scope["path"]):
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return error_response(status, detail, headers)
    return problem(status, title, detail, retry_after=retry_after)


def current_task() -> asyncio.Task:
    task = asyncio.current_task()
    assert task is not None
    return task


class RequestMetrics:
    def __init__(self, app: ASGIApp, metrics: Metrics, routes: Sequence[BaseRoute] = ()) -> None:
        self.app, self.metrics, self.routes = app, metrics, routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status: int | None = None

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        except ClientDisconnect:  # the client's doing: counted apart, not an error
            status = unanswered_status(scope)
        except asyncio.CancelledError:  # uvicorn past its shutdown grace period
            if status is not None:
                raise
            current_task().uncancel()
            await error(scope, 503, "Shutting down", "the server is stopping", retry_after=1)(
                scope, receive, send_and_note_status
            )
        except Exception:  # a bug, not a client error: same body shape, status 500
            if status is not None:
                raise
            log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            await error(scope, 500, "Internal error", "the server failed; see its log")(
                scope, receive, send_and_note_status
            )
        route = route_label(scope, self.routes)
        self.metrics.requests.labels(route, str(status)).inc()
        self.metrics.request_latency.labels(route).observe(time.perf_counter() - start)


def unanswered_status(scope: Scope) -> int:
    """The status of a request the app never answered: 408 where the server cut its body off
    (`service.http_protocol`), else 499, the client gone."""
    return int(scope.get("state", {}).get(ANSWERED_BY_SERVER, CLIENT_CLOSED_REQUEST))


def route_label(scope: Scope, routes: Sequence[BaseRoute]) -> str:
    """The path template of the route that answered. FastAPI names only its APIRoutes in
    the scope; the plain routes it serves too (/openapi.json, /docs) are found again."""
    route = scope.get("route") or next(
        (r for r in routes if r.matches(scope)[0] is not Match.NONE), None
    )
    return getattr(route, "path", "unmatched")
