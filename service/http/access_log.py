"""The access log: one line per request on the `regionserve.access` logger.

The message reads on its own in a text log; each value is also a field of the record, so a
JSON log (service/http/logs.py) carries method, route, status, latency_ms, regions, reason,
client and request_id as keys of their own.
"""

import logging

from service.http.request_context import RequestRecord

access_log = logging.getLogger("regionserve.access")


def log_request(
    method: str,
    route: str,
    status: int,
    latency_ms: float | None,
    record: RequestRecord,
    client: tuple[str, int] | None = None,
) -> None:
    """The access line: a readable message, and each value as a field of its own for JSON."""
    took = "" if latency_ms is None else f" in {latency_ms:.1f} ms"
    regions = "" if record.regions is None else f", {record.regions} regions"
    # Newlines of a client's making must not start a line of their own in a text log.
    reason = "" if record.reason is None else ": " + record.reason.replace("\n", "\\n")
    fields = {
        "method": method,
        "route": route,
        "status": status,
        "latency_ms": latency_ms,
        "regions": record.regions,
        "reason": record.reason,
        "client": None if client is None else f"{client[0]}:{client[1]}",
        "request_id": record.request_id,
    }
    # A 503 (not ready, overloaded, stopping) is the service working as designed.
    level = logging.WARNING if status >= 500 and status != 503 else logging.INFO
    access_log.log(
        level, "%s %s %d%s%s%s", method, route, status, took, regions, reason, extra=fields
    )
