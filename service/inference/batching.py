"""Micro-batching of concurrent requests in front of one predictor, one thread hop each.

A request hands the batcher a job, which runs in one of the batcher's threads: it decodes and
prepares its image there, then passes the image to `run_one` and gets its scores back. So a
request goes from the event loop to a thread and back once, batched or not.

Images run on `workers` run slots (each a set of the predictor's sessions: batches run at
once, never two on one slot). With `max_batch_size` 1 a thread takes a free slot and runs its
image alone. Otherwise images join a line: the first thread to find nobody gathering becomes
the gatherer; it waits for a free slot, then up to `delay_s` for more images (or a full
batch), takes what is waiting and runs it; the other threads wait for their scores. With
`delay_s = 0` a batch is whatever queued while the previous batch ran: no delay at low load,
larger batches under load. The threads, `(workers + 1) * max_batch_size` of them, are enough
for every slot's batch and the next batch's decoding.

Limits: at most `queue_size` requests wait (for a thread, or in the line), past which a new
one is refused as Overloaded; and a deadline, which bounds the wait for inference to start,
not the run (`service.inference.deadlines`): a job whose ticket was given up is not begun, or
stops short of its run, and a batch is taken without them: no inference runs for nobody.

Whole feeds (V2) bring their own batch (`run_job`): they take a slot for their whole job.
"""

import asyncio
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

from service.errors import Overloaded
from service.inference.deadlines import Abandoned, Ticket, if_started, unless_given_up, within
from service.inference.feed import ModelInput, Scores

S = TypeVar("S")  # a run slot: what a batch runs on (the predictor's sessions of one worker)
T = TypeVar("T")
RunOne = Callable[[ModelInput], Scores]


def _nothing() -> None:
    pass


@dataclass(eq=False)
class _Waiting:
    """An image in the line, until its batch has run."""

    item: ModelInput
    ticket: Ticket
    taken: bool = False  # in a batch that is running: its thread only waits for the scores
    scores: Scores | None = None
    error: BaseException | None = None
    done: bool = False

    def result(self) -> Scores:
        if self.error is not None:
            raise self.error
        assert self.scores is not None
        return self.scores


class MicroBatcher(Generic[S]):
    def __init__(
        self,
        run_batch: Callable[[list[ModelInput], S], list[Scores]],
        slots: Sequence[S],
        max_batch_size: int,
        delay_s: float,
        queue_size: int,
        on_batch: Callable[[int, float], None] = lambda size, seconds: None,
    ) -> None:
        self._run_batch, self._max, self._delay = run_batch, max_batch_size, delay_s
        self._queue_size, self._on_batch = queue_size, on_batch
        self._free: queue.SimpleQueue[S] = queue.SimpleQueue()
        for slot in slots:
            self._free.put(slot)
        self._threads = len(slots) if max_batch_size == 1 else (len(slots) + 1) * max_batch_size
        self._executor = ThreadPoolExecutor(self._threads, thread_name_prefix="inference")
        self._jobs: set[Future[Any]] = set()  # submitted, not yet finished
        self._stopped = False
        self._line: deque[_Waiting] = deque()
        self._gathering = False
        lock = threading.Lock()
        self._changed = threading.Condition(lock)  # a batch taken or run: waiters look again
        self._arrived = threading.Condition(lock)  # an image joined the line: the gatherer

    @property
    def depth(self) -> int:
        """Requests waiting: for a thread, or in the line for a batch."""
        return max(0, len(self._jobs) - self._threads) + len(self._line)

    @property
    def max_batch_size(self) -> int:
        return self._max

    async def stop(self) -> None:
        """Finish every job submitted, then stop the threads; later jobs are refused."""
        self._stopped = True
        jobs = list(self._jobs)  # one step under the GIL: threads discard finished jobs
        await asyncio.gather(*map(asyncio.wrap_future, jobs), return_exceptions=True)
        await asyncio.to_thread(self._executor.shutdown, True)

    async def run(
        self, job: Callable[[RunOne], T], timeout_s: float, on_done: Callable[[], None] = _nothing
    ) -> T:
        """What `job` returns, run in a batcher thread; it calls its argument once with its
        image to get the image's scores, run in a batch with whatever else is waiting.
        `on_done()` is called on the event loop once the job has finished in its thread
        (or at once if it never starts one), even when this call has returned early."""
        ticket = Ticket(timeout_s)
        whole = partial(job, partial(self._run_one, ticket))
        return await self._run_in_thread(partial(unless_given_up, ticket, whole), ticket, on_done)

    async def submit(self, item: ModelInput, timeout_s: float) -> Scores:
        """The scores of an image already prepared."""
        return await self.run(lambda run_one: run_one(item), timeout_s)

    async def run_job(
        self, job: Callable[[S], T], timeout_s: float, on_done: Callable[[], None] = _nothing
    ) -> T:
        """What `job` returns, given a run slot for all of its work: work that brings its own
        whole batch (a V2 feed), under the same queue limit and deadline; `on_done` as `run`'s."""
        ticket = Ticket(timeout_s)
        return await self._run_in_thread(partial(self._run_on_slot, ticket, job), ticket, on_done)

    async def _run_in_thread(
        self, job: Callable[[], T], ticket: Ticket, on_done: Callable[[], None]
    ) -> T:
        if self._stopped or self.depth >= self._queue_size:
            on_done()
            full = f"the queue is full ({self._queue_size} requests)"
            raise Overloaded("the server is stopping" if self._stopped else full)
        loop = asyncio.get_running_loop()
        submitted = self._executor.submit(job)
        self._jobs.add(submitted)
        submitted.add_done_callback(self._jobs.discard)
        submitted.add_done_callback(lambda _: loop.call_soon_threadsafe(on_done))
        result: T = await within(asyncio.wrap_future(submitted), ticket)
        return result

    @contextmanager
    def _slot(self) -> Iterator[S]:
        slot = self._free.get()
        try:
            yield slot
        finally:
            self._free.put(slot)

    def _run_on_slot(self, ticket: Ticket, job: Callable[[S], T]) -> T:
        with self._slot() as slot:
            return if_started(ticket, partial(job, slot))

    def _run_one(self, ticket: Ticket, item: ModelInput) -> Scores:
        """In a batcher thread: the image's scores, alone or in a batch."""
        if self._max == 1:
            with self._slot() as slot:
                if not ticket.start():
                    raise Abandoned
                return self._run_observed([item], slot)[0]
        if not ticket.wanted():  # given up while decoding: not worth a place in the line
            raise Abandoned
        waiting = _Waiting(item, ticket)
        with self._changed:
            self._line.append(waiting)
            self._arrived.notify()
        while True:
            with self._changed:
                while not waiting.done and (self._gathering or waiting.taken):
                    self._changed.wait()
                if waiting.done:
                    return waiting.result()
                self._gathering = True
            self._gather_and_run()

    def _gather_and_run(self) -> None:
        """As the gatherer: a free slot, then the batch that waits, run on it."""
        with self._slot() as slot:
            with self._changed:
                try:
                    batch = self._take()
                finally:  # the role is free again, whatever happened
                    self._gathering = False
                    self._changed.notify_all()
            if batch:
                self._run_waiting(batch, slot)

    def _run_waiting(self, batch: list[_Waiting], slot: S) -> None:
        """Runs a batch; each of its waiters gets its scores or the error, whatever happens."""
        outcome: list[Scores] | BaseException = RuntimeError("the batch's run was interrupted")
        try:
            scores = self._run_observed([w.item for w in batch], slot)
            if len(scores) != len(batch):
                raise RuntimeError(f"{len(scores)} results for a batch of {len(batch)} images")
            outcome = scores
        except Exception as error:  # the predictor failed: its waiters learn it
            outcome = error
        finally:
            with self._changed:
                for n, waiting in enumerate(batch):
                    if isinstance(outcome, BaseException):
                        waiting.error = outcome
                    else:
                        waiting.scores = outcome[n]
                    waiting.done = True
                self._changed.notify_all()

    def _take(self) -> list[_Waiting]:
        """Under the lock: up to a full batch from the line, after waiting up to the delay
        for it to fill; images whose requests were given up are dropped, never run."""
        until = time.monotonic() + self._delay
        while len(self._line) < self._max and (left := until - time.monotonic()) > 0:
            self._arrived.wait(left)
        batch: list[_Waiting] = []
        while self._line and len(batch) < self._max:
            waiting = self._line.popleft()
            if waiting.ticket.start():
                waiting.taken = True
                batch.append(waiting)
            else:
                waiting.error, waiting.done = Abandoned(), True
        return batch

    def _run_observed(self, items: list[ModelInput], slot: S) -> list[Scores]:
        start = time.perf_counter()
        results = self._run_batch(items, slot)
        self._on_batch(len(items), time.perf_counter() - start)
        return results
