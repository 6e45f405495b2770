"""uvicorn's httptools protocol with the guards it lacks, answering in problem+json.

uvicorn 0.54 times out only the idle gap between two requests, and any byte restarts it;
it arms nothing when a connection opens, bounds neither a request head's size nor the time
its head or body takes, and answers malformed framing in text/plain. Here:
- an idle connection is closed after `keep_alive_s`, from its first moment too;
- a request head must arrive within `header_s` of its first byte, and within
  `max_header_bytes`: else 408 or 431;
- a request body must arrive within `body_s` of its head: else 408 (the app, waiting for
  the body, sees a disconnect; the scope's state says the server answered, and with what);
- a body still arriving when its answer is complete has `body_s` more, then the connection
  closes (uvicorn would read and drop it for as long as the client trickles);
- a request head counts every byte of its request line and header lines, however the
  chunks that carry it fall: past `max_header_bytes`, 431 (parsing stops there);
- an answer the client does not read (the socket's buffer full) must drain within
  `send_s`: else the connection is aborted;
- past `max_connections` open connections, `PROBE_SLOTS` more are read to their head and
  answered only for the probe paths (liveness never waits for a free slot); the rest, and
  any past those slots, get 503 and are closed at once;
- a websocket or h2c upgrade is refused with one INFO line, and served as plain HTTP;
- every answer written here is counted by `counter(route, status)` (the request metrics).

This is the one module that touches uvicorn's private API (HttpToolsProtocol, its parser,
timers and cycle), written for the uvicorn version pinned in pyproject.toml: importing it
under any other version stops with a message saying so. Only `service.server.options`
imports it.
"""

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
import uvicorn
from uvicorn.config import Config
from uvicorn.server import ServerState

from service.http.access_log import log_request
from service.http.error_bodies import PROBLEM_JSON, problem_body
from service.http.request_context import (
    ANSWERED_BY_SERVER,
    REQUEST_ID_HEADER,
    REQUEST_RECORD,
    RequestRecord,
    new_request_id,
)

WRITTEN_FOR_UVICORN = "0.54.0"  # GuardedHttpProtocol follows this version's HttpToolsProtocol
if uvicorn.__version__ != WRITTEN_FOR_UVICORN:
    raise ImportError(
        f"service/server/guarded_protocol.py subclasses uvicorn {WRITTEN_FOR_UVICORN}'s private "
        f"HttpToolsProtocol, but uvicorn {uvicorn.__version__} is installed: install "
        f"uvicorn=={WRITTEN_FOR_UVICORN} (pyproject.toml, constraints.txt), or port "
        "GuardedHttpProtocol to the new version and change WRITTEN_FOR_UVICORN"
    )

# uvicorn's private module, imported once its version is known to be the one written for.
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol  # noqa: E402

log = logging.getLogger("regionserve")

# Connections past max_connections that may still ask for a probe path, and those paths.
PROBE_SLOTS = 16
PROBE_PATHS = frozenset({b"/healthz", b"/readyz", b"/v2/health/live", b"/v2/health/ready"})
# The route label of answers written here before any route is known.
SERVER_ROUTE = "(server)"
_HEADER_LINE_EXTRA = 4  # ": " and CRLF around each header's name and value


class _HeadTooLarge(Exception):
    """Raised from a parser callback: httptools stops at once and reports it as its context."""


class _ProbeOnly(Exception):
    """A connection past the limit asked for something other than a probe."""


def _no_count(route: str, status: int) -> None:
    pass


@dataclass(frozen=True)
class ConnectionLimits:
    keep_alive_s: float
    header_s: float
    body_s: float
    max_header_bytes: int
    max_connections: int
    send_s: float = 30.0


class GuardedHttpProtocol(HttpToolsProtocol):
    limits: ClassVar[ConnectionLimits]
    counter: ClassVar[Callable[[str, int], None]] = staticmethod(_no_count)
    _last_refusal_logged: ClassVar[float] = 0.0

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.timeout_keep_alive = self.limits.keep_alive_s  # type: ignore[assignment]
        self.limit_concurrency = None  # connections are limited here, with a problem body
        self._read_timer: asyncio.TimerHandle | None = None
        self._awaiting_head = True
        self._head_bytes = 0
        self._heads_seen = 0  # request heads completed on this connection
        self._parsed_head = 0  # bytes of the current head, as the parser reports them
        self._send_timer: asyncio.TimerHandle | None = None
        self._probe_only = False  # past max_connections: probes only
        self._upgrade_logged = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        open_now, limit = len(self.connections), self.limits.max_connections
        if open_now > limit + PROBE_SLOTS:
            self._refuse_connection()
            return
        self._probe_only = open_now > limit
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_read_timer()
        self._stop_send_timer()
        super().connection_lost(exc)

    def _refuse_connection(self) -> None:
        self._log_refusal()
        detail = f"the server holds its limit of {self.limits.max_connections} connections"
        self._answer(503, "Too many connections", detail, retry_after=1)

    def data_received(self, data: bytes) -> None:
        was_awaiting_head, heads_seen = self._awaiting_head, self._heads_seen
        if was_awaiting_head and self._read_timer is None:
            self._start_read_timer(self.limits.header_s)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            if isinstance(error.__context__, _HeadTooLarge):
                self._head_too_large()
            elif isinstance(error.__context__, _ProbeOnly):
                self._refuse_connection()
            else:
                self._answer(400, "Bad request", f"malformed HTTP request: {error}")
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        if was_awaiting_head and self._heads_seen == heads_seen:  # the chunk was all head
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_header_bytes:
                self._head_too_large()

    def _head_too_large(self) -> None:
        limit = self.limits.max_header_bytes
        detail = f"the request head passes the limit of {limit} bytes"
        self._answer(431, "Request header fields too large", detail)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._parsed_head = 0

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + _HEADER_LINE_EXTRA)
        super().on_header(name, value)

    def _count_head(self, size: int) -> None:
        """The bytes of a head completed within one chunk, which data_received cannot see."""
        self._parsed_head += size
        if self._parsed_head > self.limits.max_header_bytes:
            raise _HeadTooLarge

    def on_headers_complete(self) -> None:
        if self._probe_only and self.url.split(b"?", 1)[0] not in PROBE_PATHS:
            raise _ProbeOnly
        self._awaiting_head, self._head_bytes = False, 0
        self._heads_seen += 1
        self._start_read_timer(self.limits.body_s)
        super().on_headers_complete()
        if self._probe_only and self.cycle is not None:
            self.cycle.keep_alive = False  # its slot is a spare one: one probe, then closed

    def _unsupported_upgrade_warning(self) -> None:
        """One INFO line per connection: uvicorn writes two WARNING lines per request."""
        if not self._upgrade_logged:
            self._upgrade_logged = True
            upgrade = (self._get_upgrade() or b"?").decode("latin-1")[:32]
            log.info("upgrade to %r refused: the request is served as plain HTTP", upgrade)

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._send_timer is None:
            self._send_timer = self.loop.call_later(self.limits.send_s, self._send_timed_out)

    def resume_writing(self) -> None:
        self._stop_send_timer()
        super().resume_writing()

    def _stop_send_timer(self) -> None:
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None

    def _send_timed_out(self) -> None:
        """The client has not read its answer for `send_s`: nothing more can reach it."""
        self._send_timer = None
        log.info("an answer did not drain within %g s: connection aborted", self.limits.send_s)
        self.transport.abort()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._stop_read_timer()
        self._awaiting_head = True

    def _start_read_timer(self, seconds: float) -> None:
        self._stop_read_timer()
        self._read_timer = self.loop.call_later(seconds, self._read_timed_out)

    def _stop_read_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        busy = cycle is not None and not cycle.response_complete
        if self._awaiting_head and busy:  # a slow next head while an answer is computed
            cycle.keep_alive = False  # close once it is sent
        elif self._awaiting_head:
            detail = f"the request head did not arrive within {self.limits.header_s:g} s"
            self._answer(408, "Request timeout", detail)
        elif cycle is None or cycle.response_started or self.pipeline:
            self.transport.close()  # the rest of a body nobody waits for
        else:
            cycle.scope["state"][ANSWERED_BY_SERVER] = 408
            cycle.disconnected = True  # the app's receive() now says http.disconnect
            cycle.message_event.set()
            detail = f"the request body did not arrive within {self.limits.body_s:g} s"
            # The app's RequestLog writes this request's line, with the reason noted here.
            request = cycle.scope["state"].get(REQUEST_RECORD)
            self._answer(408, "Request timeout", detail, request=request)

    def _answer(
        self,
        status: int,
        title: str,
        detail: str,
        retry_after: int | None = None,
        request: RequestRecord | None = None,
    ) -> None:
        """A problem+json answer written straight to the socket, then the connection closed.
        Without the `request` the app is serving, the answer gets an id and a log line here."""
        record = request or RequestRecord(new_request_id())
        record.reason = detail
        body = json.dumps(problem_body(status, title, detail)).encode()
        head = [STATUS_LINE[status]]
        headers = [
            *self.server_state.default_headers,
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
            (REQUEST_ID_HEADER.lower().encode(), record.request_id.encode()),
        ]
        if retry_after is not None:
            headers.append((b"retry-after", str(retry_after).encode()))
        head += [name + b": " + value + b"\r\n" for name, value in headers]
        self.transport.write(b"".join([*head, b"\r\n", body]))
        self.transport.close()
        if request is None:  # the app counts and logs the requests it serves
            type(self).counter(SERVER_ROUTE, status)
            if status != 503:  # refused connections: _log_refusal
                log_request("-", "-", status, None, record, self.client)

    def _log_refusal(self) -> None:
        """One warning a minute at most: a flood of refusals would flood the log too."""
        now = time.monotonic()
        if now - GuardedHttpProtocol._last_refusal_logged >= 60:
            GuardedHttpProtocol._last_refusal_logged = now
            limit = self.limits.max_connections
            log.warning("connection limit of %d reached: new connections get 503", limit)


def guarded_protocol(
    limits: ConnectionLimits, count_answer: Callable[[str, int], None] = _no_count
) -> type[GuardedHttpProtocol]:
    """The protocol class uvicorn instantiates per connection, bound to `limits`;
    `count_answer(route, status)` counts the answers it writes itself."""

    class BoundProtocol(GuardedHttpProtocol):
        pass

    BoundProtocol.limits = limits
    BoundProtocol.counter = staticmethod(count_answer)
    return BoundProtocol
