"""What the access log says about the request being served: its id, regions and error reason.

`RequestLog` opens a record per request in a context variable; code deeper in the same
request (a route, an error handler, a thread it hands work to) notes what it learns there.
A log record written meanwhile carries the request's id (`service.http.logs.RequestIdFilter`).
"""

import re
import uuid
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass

from starlette.routing import BaseRoute, Match
from starlette.types import Scope

REQUEST_ID_HEADER = "X-Request-ID"
# A client's id is kept when it is 1 to 128 of these characters: nothing that could break
# a log line or a header (no spaces, quotes or control characters).
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")
# Key in a request's scope["state"]: its RequestRecord, for the HTTP protocol's own answers.
REQUEST_RECORD = "regionserve.request"
# Key in a request's scope["state"]: the status the guarded HTTP protocol answered it with.
ANSWERED_BY_SERVER = "regionserve.answered_by_server"
# nginx's status for a client that closed its connection before the answer.
CLIENT_CLOSED_REQUEST = 499


@dataclass
class RequestRecord:
    request_id: str
    regions: int | None = None
    reason: str | None = None  # the detail of an error answer


current_request: ContextVar[RequestRecord | None] = ContextVar("current_request", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_from(client_value: str | None) -> str:
    """The client's id when it is safe to echo and log, else a new one."""
    if client_value is not None and _SAFE_REQUEST_ID.fullmatch(client_value):
        return client_value
    return new_request_id()


def current_request_id() -> str | None:
    record = current_request.get()
    return None if record is None else record.request_id


def note_regions(count: int) -> None:
    record = current_request.get()
    if record is not None:
        record.regions = count


def note_reason(detail: str) -> None:
    record = current_request.get()
    if record is not None:
        record.reason = detail


def unanswered_status(scope: Scope) -> int:
    """The status of a request the app never answered: 408 where the server cut its body off
    (`service.server.guarded_protocol`), else 499, the client gone."""
    return int(scope.get("state", {}).get(ANSWERED_BY_SERVER, CLIENT_CLOSED_REQUEST))


def route_label(scope: Scope, routes: Sequence[BaseRoute]) -> str:
    """The path template of the route that answered. FastAPI names only its APIRoutes in
    the scope; the plain routes it serves too (/openapi.json, /docs) are found again."""
    route = scope.get("route") or next(
        (r for r in routes if r.matches(scope)[0] is not Match.NONE), None
    )
    return getattr(route, "path", "unmatched")
