"""One server process: the model loaded, uvicorn on its socket, a failed start as one line."""

import ctypes
import os
import signal
import socket
import sys
from collections.abc import Callable
from multiprocessing.sharedctypes import Synchronized
from typing import NoReturn

import uvicorn

from service.app import create_app
from service.http.logs import configure_logging
from service.inference.model_info import ModelLoadError
from service.inference.predictor import Predictor
from service.server.options import server_options
from service.settings import get_settings

STARTUP_FAILED = 2
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def print_to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def serve(host: str, port: int) -> None:
    """Serve until a signal stops it, on all the cores this process may use."""
    run_server(None, host=host, port=port)


def serve_on(sock: socket.socket, cores: int, failure_told: "Synchronized[bool]") -> None:
    """A child of `service.server.processes`: serve on the parent's socket until the parent
    says stop. Its own process group keeps a terminal's Ctrl-C for the parent, which forwards
    SIGTERM once; the kernel stops it if the parent dies. Of children failing alike, one
    prints the line."""
    os.setpgrp()
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    configure_logging(get_settings().log_format)

    def tell_once(message: str) -> None:
        with failure_told.get_lock():
            if not failure_told.value:
                failure_told.value = True
                print_to_stderr(message)

    run_server(cores, sockets=[sock], tell_failure=tell_once)


def run_server(
    cores: int | None,
    host: str = "127.0.0.1",
    port: int = 0,
    sockets: list[socket.socket] | None = None,
    tell_failure: Callable[[str], None] = print_to_stderr,
) -> None:
    settings = get_settings()
    try:
        predictor = Predictor.from_settings(settings, cores)
    except ModelLoadError as error:
        cannot_start(str(error), tell_failure)
    failure: list[str] = []

    def stop_serving(message: str) -> None:
        failure.append(message)
        server.should_exit = True

    app = create_app(settings, predictor, on_failure=stop_serving)
    count_answer = app.state.metrics.count_request  # the protocol's own answers
    options = server_options(settings, count_answer)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, **options))
    server.run(sockets)
    if failure:
        cannot_start(failure[0], tell_failure)


def cannot_start(message: str, tell_failure: Callable[[str], None]) -> NoReturn:
    """One line naming what failed, and a non-zero exit, whatever stage it failed at."""
    tell_failure(f"regionserve: cannot start: {message}")
    sys.exit(STARTUP_FAILED)
