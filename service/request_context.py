"""What the access log says about the request being served: its id, regions and error reason.

`RequestLog` opens a record per request in a context variable; code deeper in the same
request (a route, an error handler, a thread it hands work to) notes what it learns there.
A log record written meanwhile carries the request's id (`service.logs.RequestIdFilter`).
"""

import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

REQUEST_ID_HEADER = "X-Request-ID"
# A client's id is kept when it is 1 to 128 of these characters: nothing that could break
# a log line or a header (no spaces, quotes or control characters).
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")
# Key in a request's scope["state"]: its RequestRecord, for the HTTP protocol's own answers.
REQUEST_RECORD = "regionserve.request"


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
