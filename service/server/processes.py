"""Several server processes on one listening socket, each with its own sessions and batcher.

One Python process serves at most what its GIL allows: on 16 cores its threads stopped at about
180 requests per second however the cores were split between sessions (bench/RESULTS.md). The
parent binds the socket, starts `count` processes by spawning (no CUDA state or threads are
forked), and forwards SIGTERM / SIGINT to them; each child runs the single-process server on its
share of the cores. Metrics are collected across the processes (prometheus_client's
multiprocess mode, in a directory the parent makes and removes).

A child that cannot start (model missing, self-test failed) prints its one line and exits with
STARTUP_FAILED: the parent then stops the others and exits with that code, so a bad model never
serves from some processes and not others. A child that dies later is replaced.
"""

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import time
from multiprocessing.process import BaseProcess
from types import FrameType

from prometheus_client import multiprocess

from service.inference.cpu_plan import available_cores
from service.server.serving import STARTUP_FAILED, serve_on
from service.settings import Settings

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus_client when it is imported
log = logging.getLogger("regionserve")
spawn = multiprocessing.get_context("spawn")


def listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def serve_processes(settings: Settings, host: str, port: int, count: int) -> int:
    """Serve with `count` processes until a signal stops them; the exit code."""
    own_dir = MULTIPROCESS_DIR not in os.environ
    if own_dir:
        os.environ[MULTIPROCESS_DIR] = tempfile.mkdtemp(prefix="regionserve-metrics-")
    sock = listening_socket(host, port, settings.listen_backlog)
    cores = max(1, available_cores() // count)
    stopping: list[int] = []
    failure_told = spawn.Value("b", False)

    def start() -> BaseProcess:
        child = spawn.Process(target=serve_on, args=(sock, cores, failure_told), daemon=False)
        child.start()
        return child

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    children = [start() for _ in range(count)]
    code = 0
    try:
        while not stopping:
            time.sleep(0.2)
            for i, child in enumerate(children):
                if child.exitcode is None:
                    continue
                multiprocess.mark_process_dead(child.pid)
                if child.exitcode == STARTUP_FAILED:
                    code = STARTUP_FAILED
                    stopping.append(signal.SIGTERM)
                    break
                log.warning(
                    "process %d exited with %s; starting another", child.pid, child.exitcode
                )
                children[i] = start()
    finally:
        for child in children:
            if child.exitcode is None and child.pid is not None:
                os.kill(child.pid, signal.SIGTERM)
        for child in children:
            child.join(settings.shutdown_grace_s + 5)
            if child.exitcode is None:
                child.kill()
                child.join()
        for s, handler in previous.items():
            signal.signal(s, handler)
        sock.close()
        if own_dir:
            shutil.rmtree(os.environ.pop(MULTIPROCESS_DIR), ignore_errors=True)
    return code
