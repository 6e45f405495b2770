"""Requests by route and status, and their latency: a pure ASGI middleware.

Starlette's `@app.middleware("http")` runs every request in an extra task and pipes the
response through a memory stream; this wraps `send` instead and costs a function call.

A client gone before its answer is counted 499, or 408 where the server cut its body off:
the client's doing, not a server error (the access log, `service.http.request_log`, says so).
A request still unanswered when uvicorn's shutdown grace period ends (it cancels the task)
is answered 503.
"""

import asyncio
import logging
import time
from collections.abc import Sequence

from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.http.error_bodies import error_for
from service.http.request_context import route_label, unanswered_status
from service.metrics import Metrics

log = logging.getLogger("regionserve")


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
            await error_for(
                scope["path"], 503, "Shutting down", "the server is stopping", retry_after=1
            )(scope, receive, send_and_note_status)
        except Exception:  # a bug, not a client error: same body shape, status 500
            if status is not None:
                raise
            log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            await error_for(scope["path"], 500, "Internal error", "the server failed; see its log")(
                scope, receive, send_and_note_status
            )
        route = route_label(scope, self.routes)
        self.metrics.requests.labels(route, str(status)).inc()
        self.metrics.request_latency.labels(route).observe(time.perf_counter() - start)
