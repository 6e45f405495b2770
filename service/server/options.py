"""uvicorn's options from the settings: the guarded protocol, its limits, and shutdown.

Shutdown: uvicorn stops accepting, closes idle connections, lets requests in flight finish
for `shutdown_grace_s`, then cancels the rest (each answered 503, its queued inference
dropped), and the lifespan waits for the runs already started. The whole must fit the
orchestrator's grace period (docker-compose.yml gives 35 s) with a run to spare.
"""

import logging
import resource
from collections.abc import Callable
from typing import Any

from service.server.guarded_protocol import ConnectionLimits, guarded_protocol
from service.settings import Settings

log = logging.getLogger("regionserve")

# Descriptors kept for everything else a process opens: model files, logs, pipes.
SPARE_DESCRIPTORS = 64


def server_options(
    settings: Settings, count_answer: Callable[[str, int], None] = lambda route, status: None
) -> dict[str, Any]:
    """Keyword arguments for uvicorn.Config; `count_answer(route, status)` counts the
    answers the protocol writes itself (the app's request metrics)."""
    limits = ConnectionLimits(
        keep_alive_s=settings.keep_alive_timeout_s,
        header_s=settings.header_timeout_s,
        body_s=settings.body_timeout_s,
        max_header_bytes=settings.max_header_bytes,
        max_connections=connection_limit(settings.max_connections),
        send_s=settings.send_timeout_s,
    )
    return {
        "http": guarded_protocol(limits, count_answer),
        "ws": "none",  # no websocket routes: an upgrade request is an ordinary request
        # uvicorn's loggers write through the process's handler (service/http/logs.py), and the
        # access log is ours (service/http/request_log.py).
        "log_config": None,
        "access_log": False,
        "backlog": settings.listen_backlog,
        "timeout_graceful_shutdown": settings.shutdown_grace_s,
    }


def connection_limit(wanted: int) -> int:
    """`wanted`, or fewer where the process may not open that many descriptors."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or wanted <= soft - SPARE_DESCRIPTORS:
        return wanted
    allowed = max(soft - SPARE_DESCRIPTORS, 1)
    log.warning(
        "max_connections %d lowered to %d: the descriptor limit is %d", wanted, allowed, soft
    )
    return allowed
