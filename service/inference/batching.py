"""Micro-batching of concurrent requests in front of one predictor.

Requests wait in a bounded queue. A worker takes the first waiting request, then any
others that arrive within `delay_s` (up to `max_batch_size`), and runs them together in a
thread of its own, so session.run never blocks the event loop. With `workers` > 1 that many
batches run at once (onnxruntime sessions take concurrent runs), sharing the session's
threads; with one, session.run never runs twice at once. With `delay_s = 0` a batch is
whatever queued while the previous batch ran: no delay at low load, larger batches under load.

With batches of one there is nothing to combine, so a request can hand over a whole job
instead of an image (`run_alone`): it decodes, prepares and runs in the inference thread,
one thread hop instead of two. Jobs go straight to the inference threads' own queue, with
the same limits: at most `queue_size` waiting, and a deadline, past which a job that has
not started never will.

A deadline bounds the wait for inference to start, not the run (`service.inference.deadlines`): a
batch drops expired or given-up requests before running, and no inference runs for nobody.
"""

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from service.errors import Overloaded
from service.inference.deadlines import Abandoned, Ticket, if_started, unless_given_up, within
from service.inference.feed import ModelInput, Scores

RunBatch = Callable[[list[ModelInput]], list[Scores]]
T = TypeVar("T")


@dataclass(eq=False)
class _Pending:
    item: ModelInput
    ticket: Ticket
    future: asyncio.Future[Scores] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class MicroBatcher:
    def __init__(
        self,
        run_batch: RunBatch,
        max_batch_size: int,
        delay_s: float,
        queue_size: int,
        on_batch: Callable[[int, float], None] = lambda size, seconds: None,
        workers: int = 1,
    ) -> None:
        self._run_batch, self._max, self._delay = run_batch, max_batch_size, delay_s
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(queue_size)
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inference")
        self._on_batch = on_batch
        self._workers: list[asyncio.Task[None]] = []
        self._worker_count = workers
        self._jobs: set[Future[Any]] = set()  # submitted by run_job, not yet finished

    @property
    def depth(self) -> int:
        """Requests waiting for an inference thread."""
        return self._queue.qsize() + max(0, len(self._jobs) - self._worker_count)

    @property
    def max_batch_size(self) -> int:
        return self._max

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._workers = [loop.create_task(self._serve()) for _ in range(self._worker_count)]

    async def stop(self) -> None:
        """Finish what is queued, then stop the workers."""
        await self._queue.join()
        jobs = list(self._jobs)  # one step under the GIL: threads discard finished jobs
        await asyncio.gather(*map(asyncio.wrap_future, jobs), return_exceptions=True)
        for worker in self._workers:
            worker.cancel()
        self._executor.shutdown(wait=True)

    async def submit(self, item: ModelInput, timeout_s: float) -> Scores:
        """The scores of `item`, run in a batch with whatever else is waiting."""
        pending = _Pending(item, Ticket(timeout_s))
        try:
            self._queue.put_nowait(pending)
        except asyncio.QueueFull:
            raise Overloaded(f"the queue is full ({self._queue.maxsize} requests)") from None
        result: Scores = await within(pending.future, pending.ticket)
        return result

    async def run_alone(self, job: Callable[[RunBatch], T], timeout_s: float) -> T:
        """What `job` returns, run alone in an inference thread (batches of one only)."""
        if self._max != 1:
            raise RuntimeError("jobs run alone: the batch size must be 1")
        ticket = Ticket(timeout_s)
        whole = partial(job, partial(self._run_if_started, ticket))
        return await self._run_in_thread(partial(unless_given_up, ticket, whole), ticket)

    async def run_job(self, job: Callable[[], T], timeout_s: float) -> T:
        """What `job` returns, run in an inference thread at any batch size, under the same
        queue limit and deadline: work that brings its own whole batch (a V2 feed)."""
        ticket = Ticket(timeout_s)
        return await self._run_in_thread(partial(if_started, ticket, job), ticket)

    async def _run_in_thread(self, job: Callable[[], T], ticket: Ticket) -> T:
        if self.depth >= self._queue.maxsize:
            raise Overloaded(f"the queue is full ({self._queue.maxsize} requests)")
        submitted = self._executor.submit(job)
        self._jobs.add(submitted)
        submitted.add_done_callback(self._jobs.discard)
        result: T = await within(asyncio.wrap_future(submitted), ticket)
        return result

    def _run_if_started(self, ticket: Ticket, items: list[ModelInput]) -> list[Scores]:
        if not ticket.start():
            raise Abandoned
        return self._run_observed(items)

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            await self._gather(batch)
            live = [p for p in batch if p.ticket.start()]  # others expired or were given up
            if live:
                try:
                    results = await loop.run_in_executor(self._executor, self._run, live)
                except Exception as error:  # the predictor failed: its waiters learn it
                    for p in live:
                        _fail(p, error)
                else:
                    for p, result in zip(live, results, strict=True):
                        if not p.future.done():
                            p.future.set_result(result)
            for _ in batch:
                self._queue.task_done()

    def _run(self, batch: list[_Pending]) -> list[Scores]:
        """In an inference thread: the batch's images in one run."""
        return self._run_observed([p.item for p in batch])

    def _run_observed(self, items: list[ModelInput]) -> list[Scores]:
        start = time.perf_counter()
        results = self._run_batch(items)
        self._on_batch(len(items), time.perf_counter() - start)
        return results

    async def _gather(self, batch: list[_Pending]) -> None:
        """Add requests to `batch` until it is full or the delay has passed."""
        until = time.monotonic() + self._delay
        while len(batch) < self._max:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            left = until - time.monotonic()
            if left <= 0:
                return
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), left))
            except TimeoutError:
                return


def _fail(pending: _Pending, error: BaseException) -> None:
    if not pending.future.done():
        pending.future.set_exception(error)
