"""Deadlines that save work: a request's ticket to one inference run.

A deadline bounds the wait for inference to start, not the run. Each request holds a
ticket, started once right before its run (its caller then waits for the result it paid
for), unless the caller gave it up first: past its deadline, or cancelled because its client
has gone. Work whose ticket is given up never runs: a job not yet begun is skipped, an image
in the batcher's line is left out of its batch, and a job already decoding stops short of
its run.
"""

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from service.errors import Overloaded

T = TypeVar("T")


class Ticket:
    """One request's claim on an inference run: started once, or abandoned, never both."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s
        self._lock = threading.Lock()  # started in an inference thread, abandoned in the loop
        self._state = "waiting"

    def seconds_left(self) -> float:
        return max(self.deadline - time.monotonic(), 0.0)

    def wanted(self) -> bool:
        """Still waiting, and within its deadline."""
        return self._state == "waiting" and time.monotonic() < self.deadline

    def start(self) -> bool:
        """Right before the run: True if it may run (then it can no longer be abandoned)."""
        with self._lock:
            if self._state == "waiting":
                self._state = "running" if self.wanted() else "abandoned"
            return self._state == "running"

    def abandon(self) -> bool:
        """True if the run never started and now never will."""
        with self._lock:
            if self._state == "waiting":
                self._state = "abandoned"
            return self._state == "abandoned"


class Abandoned(Exception):
    """Raised in an inference thread for work given up meanwhile; its caller has left."""


def unless_given_up(ticket: Ticket, job: Callable[[], T]) -> T:
    """In an inference thread: a job whose request was given up is not even begun."""
    if not ticket.wanted():
        raise Abandoned
    return job()


def if_started(ticket: Ticket, job: Callable[[], T]) -> T:
    """In an inference thread: a job that is all run starts with its ticket."""
    if not ticket.start():
        raise Abandoned
    return job()


async def within(future: asyncio.Future[Any], ticket: Ticket) -> Any:
    """The future's result, or Overloaded if its run has not started by the deadline.
    Leaving early (that, or cancelled) abandons the ticket and cancels the future: work not
    started never will be (a job not begun is skipped, an image in the line is left out, a
    started job stops short of its run)."""
    late = f"inference did not start within {ticket.timeout_s:.3g} s"  # less any memory wait
    try:
        done, _ = await asyncio.wait((future,), timeout=ticket.seconds_left())
        if not done and ticket.abandon():
            raise Overloaded(late)
        return await future  # started in time: its result is worth waiting for
    except Abandoned:  # its thread found it late before the timeout woke this caller
        raise Overloaded(late) from None
    finally:
        if not future.done():
            ticket.abandon()
            future.cancel()
