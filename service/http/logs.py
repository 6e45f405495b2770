"""The process's log: one handler on the root logger, plain text or JSON lines.

Every record carries `request_id`: the id of the request being served when it was written
(`service.http.request_context`), or none outside a request (start-up, the inference threads).
uvicorn's own loggers write through the same handler (`service.server.options` gives
uvicorn no logging config of its own and turns its access log off for ours).
"""

import logging
from typing import Literal

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from service.http.request_context import current_request_id

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(name)s %(levelname)s [%(request_id)s] %(message)s"
JSON_FIELDS = ["levelname", "name", "message", "request_id"]
JSON_NAMES = {"levelname": "level", "name": "logger"}
# uvicorn adds a coloured copy of some messages for terminals.
JSON_SKIPPED = [*RESERVED_ATTRS, "color_message"]


class RequestIdFilter(logging.Filter):
    """Adds the current request's id to a record that does not name one already."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id") and (request_id := current_request_id()):
            record.request_id = request_id
        return True


def formatter(log_format: LogFormat) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter(
            JSON_FIELDS, rename_fields=JSON_NAMES, reserved_attrs=JSON_SKIPPED, timestamp="time"
        )
    return logging.Formatter(TEXT_FORMAT, defaults={"request_id": "-"})


def configure_logging(log_format: LogFormat) -> None:
    """INFO and above to stderr, in `log_format`, replacing any handler set before."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(formatter(log_format))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    skip_unwritten_record_fields()


def skip_unwritten_record_fields() -> None:
    """Neither format writes a record's source line, thread, process or task: the switches the
    logging module documents (its "Optimization" section) spare every record those look-ups,
    the stack walk for its caller the dearest (a third of each access line's cost)."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # Python 3.12 (the GPU image) and later; unread by 3.11, whose stubs lack it.
    logging.logAsyncioTasks = False  # type: ignore[attr-defined,unused-ignore]
