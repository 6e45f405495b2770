"""Request ids and the access log: the outermost pure ASGI middleware.

Each request gets an id: the client's `X-Request-ID` when it is safe to echo (see
`service.http.request_context`), else a new one. The id goes back in the answer's
`X-Request-ID` header and into every log record written while the request is served.
When the request ends, one line on the `regionserve.access` logger says its method, route,
status, latency, number of regions and, for an error, the reason the answer gave.
"""

import time
from collections.abc import Sequence

from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.http.access_log import log_request
from service.http.request_context import (
    REQUEST_ID_HEADER,
    REQUEST_RECORD,
    RequestRecord,
    current_request,
    request_id_from,
    route_label,
    unanswered_status,
)

_HEADER = REQUEST_ID_HEADER.lower().encode()


class RequestLog:
    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute] = ()) -> None:
        self.app, self.routes = app, routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        sent = next((value for name, value in scope["headers"] if name == _HEADER), None)
        record = RequestRecord(request_id_from(None if sent is None else sent.decode("latin-1")))
        scope.setdefault("state", {})[REQUEST_RECORD] = record
        id_header = (_HEADER, record.request_id.encode())
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        token = current_request.set(record)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if status is None:
                status = unanswered_status(scope)
                record.reason = record.reason or "the client left before its answer"
            latency_ms = round((time.perf_counter() - start) * 1000, 2)
            route = route_label(scope, self.routes)
            log_request(scope["method"], route, status, latency_ms, record, scope.get("client"))
            current_request.reset(token)
