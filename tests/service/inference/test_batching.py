"""The micro-batcher alone, with a fake predictor: batching, overload and deadlines."""

import asyncio
import threading
from collections.abc import Callable

import numpy as np
import pytest

from service.errors import Overloaded
from service.inference.batching import MicroBatcher, RunBatch
from service.inference.deadlines import Abandoned, Ticket, within
from service.inference.feed import ModelInput, Scores


def item(value: int) -> ModelInput:
    return ModelInput(np.full((4, 4, 3), value, np.uint8), np.zeros((1, 4), np.float32), None)


class FakePredictor:
    """Echoes each image's first pixel as its score; can be held to build a queue."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.gate = threading.Event()
        self.gate.set()

    def run(self, batch: list[ModelInput]) -> list[Scores]:
        self.gate.wait(10)
        self.batches.append(len(batch))
        return [Scores(np.array([[p.pixels[0, 0, 0]]]), np.zeros((0, 1))) for p in batch]


def test_requests_that_queue_up_are_run_together() -> None:
    async def scenario() -> tuple[list[float], list[int]]:
        fake = FakePredictor()
        batcher = MicroBatcher(fake.run, max_batch_size=4, delay_s=0.0, queue_size=16)
        batcher.start()
        fake.gate.clear()
        first = asyncio.create_task(batcher.submit(item(0), 5))
        await asyncio.sleep(0.05)  # the first is now running; the rest queue behind it
        rest = [asyncio.create_task(batcher.submit(item(v), 5)) for v in range(1, 10)]
        await asyncio.sleep(0.05)
        fake.gate.set()
        results = await asyncio.gather(first, *rest)
        await batcher.stop()
        return [float(r.rois[0, 0]) for r in results], fake.batches

    values, batches = asyncio.run(scenario())
    assert values == list(range(10))  # each caller gets its own answer
    assert batches == [1, 4, 4, 1]


def test_full_queue_is_refused_with_overloaded() -> None:
    async def scenario() -> None:
        fake = FakePredictor()
        batcher = MicroBatcher(fake.run, max_batch_size=1, delay_s=0.0, queue_size=2)
        batcher.start()
        fake.gate.clear()
        waiting = [asyncio.create_task(batcher.submit(item(0), 5))]
        await asyncio.sleep(0.05)  # the worker has taken it and is running it
        waiting += [asyncio.create_task(batcher.submit(item(v), 5)) for v in (1, 2)]
        await asyncio.sleep(0.05)  # two queued: the queue is full
        with pytest.raises(Overloaded, match="queue is full"):
            await batcher.submit(item(9), 5)
        fake.gate.set()
        await asyncio.gather(*waiting)
        await batcher.stop()

    asyncio.run(scenario())


async def held_batcher() -> tuple[FakePredictor, MicroBatcher, asyncio.Task[Scores]]:
    """A batcher whose one worker is held inside the predictor on a first request."""
    fake = FakePredictor()
    batcher = MicroBatcher(fake.run, max_batch_size=1, delay_s=0.0, queue_size=4)
    batcher.start()
    fake.gate.clear()
    running = asyncio.create_task(batcher.submit(item(1), 5))
    await asyncio.sleep(0.05)
    return fake, batcher, running


def test_request_not_started_by_its_deadline_gets_overloaded_and_never_runs() -> None:
    async def scenario() -> list[int]:
        fake, batcher, running = await held_batcher()
        with pytest.raises(Overloaded, match=r"inference did not start within 0\.1 s"):
            await batcher.submit(item(2), 0.1)
        fake.gate.set()
        await running
        await batcher.stop()
        return fake.batches

    assert asyncio.run(scenario()) == [1]  # the expired request was dropped, not run


def test_a_run_started_in_time_is_awaited_past_the_deadline() -> None:
    async def scenario() -> float:
        fake = FakePredictor()
        batcher = MicroBatcher(fake.run, max_batch_size=1, delay_s=0.0, queue_size=4)
        batcher.start()
        fake.gate.clear()
        waiting = asyncio.create_task(batcher.submit(item(4), 0.1))
        await asyncio.sleep(0.3)  # started at once, still running past its 0.1 s
        fake.gate.set()
        scores = await waiting
        await batcher.stop()
        return float(scores.rois[0, 0])

    assert asyncio.run(scenario()) == 4.0


def test_a_cancelled_request_never_runs() -> None:
    """Cancelled: its client has gone (service.http.disconnect cancels the request's task)."""

    async def scenario() -> list[int]:
        fake, batcher, running = await held_batcher()
        gone = asyncio.create_task(batcher.submit(item(2), 5))
        await asyncio.sleep(0.05)
        gone.cancel()
        fake.gate.set()
        await running
        await batcher.stop()
        assert gone.cancelled()
        return fake.batches

    assert asyncio.run(scenario()) == [1]


def test_a_job_given_up_while_decoding_stops_short_of_its_run() -> None:
    async def scenario() -> tuple[list[int], list[str]]:
        fake, decoding, steps = FakePredictor(), threading.Event(), []
        batcher = MicroBatcher(fake.run, 1, 0.0, queue_size=4)
        batcher.start()

        def job(run: RunBatch) -> None:
            steps.append("decoding")
            decoding.wait(5)  # the caller's deadline passes meanwhile
            run([item(0)])
            steps.append("ran")

        with pytest.raises(Overloaded, match=r"did not start within 0\.1 s"):
            await batcher.run_alone(job, 0.1)
        decoding.set()
        await batcher.stop()
        return fake.batches, steps

    assert asyncio.run(scenario()) == ([], ["decoding"])


def test_a_job_its_thread_found_late_is_overloaded_not_an_error() -> None:
    """The thread may find a ticket past its deadline before the caller's timeout wakes."""

    async def scenario() -> None:
        future = asyncio.get_running_loop().create_future()
        future.set_exception(Abandoned())
        with pytest.raises(Overloaded, match="did not start within 5 s"):
            await within(future, Ticket(5))

    asyncio.run(scenario())


def test_two_workers_run_two_batches_at_once() -> None:
    async def scenario() -> int:
        both_running = threading.Barrier(2, timeout=5)

        def run(batch: list[ModelInput]) -> list[Scores]:
            both_running.wait()  # breaks (and fails the test) unless two runs overlap
            return [Scores(np.zeros((1, 1)), np.zeros((0, 1))) for _ in batch]

        batcher = MicroBatcher(run, max_batch_size=1, delay_s=0.0, queue_size=4, workers=2)
        batcher.start()
        results = await asyncio.gather(*(batcher.submit(item(v), 5) for v in range(4)))
        await batcher.stop()
        return len(results)

    assert asyncio.run(scenario()) == 4


def test_a_job_runs_alone_in_an_inference_thread_with_the_predictor() -> None:
    async def scenario() -> tuple[str, float, list[tuple[int, float]]]:
        fake, observed = FakePredictor(), []
        batcher = MicroBatcher(
            fake.run, 1, 0.0, 4, on_batch=lambda size, s: observed.append((size, s))
        )
        batcher.start()

        def job(run: RunBatch) -> tuple[str, float]:
            return threading.current_thread().name, float(run([item(7)])[0].rois[0, 0])

        thread, score = await batcher.run_alone(job, 5)
        await batcher.stop()
        return thread, score, observed

    thread, score, observed = asyncio.run(scenario())
    assert thread.startswith("inference") and score == 7.0
    assert [size for size, _ in observed] == [1]  # the run inside the job is measured


def test_a_failing_job_fails_its_caller_and_the_worker_goes_on() -> None:
    async def scenario() -> float:
        batcher = MicroBatcher(FakePredictor().run, 1, 0.0, 4)
        batcher.start()

        def bad(_: RunBatch) -> None:
            raise ValueError("undecodable")

        with pytest.raises(ValueError, match="undecodable"):
            await batcher.run_alone(bad, 5)
        scores = await batcher.submit(item(3), 5)
        await batcher.stop()
        return float(scores.rois[0, 0])

    assert asyncio.run(scenario()) == 3.0


def test_jobs_need_batches_of_one() -> None:
    async def scenario() -> None:
        batcher = MicroBatcher(FakePredictor().run, 4, 0.0, 4)
        with pytest.raises(RuntimeError, match="batch size must be 1"):
            await batcher.run_alone(lambda run: None, 5)

    asyncio.run(scenario())


def test_jobs_past_the_queue_limit_are_refused_and_late_ones_never_start() -> None:
    async def scenario() -> list[str]:
        fake, started = FakePredictor(), []
        batcher = MicroBatcher(fake.run, 1, 0.0, queue_size=1)
        batcher.start()
        fake.gate.clear()

        def job(name: str) -> Callable[[RunBatch], str]:
            def run(predict: RunBatch) -> str:
                started.append(name)
                predict([item(0)])
                return name

            return run

        running = asyncio.create_task(batcher.run_alone(job("running"), 5))
        await asyncio.sleep(0.05)  # the one thread is held inside the predictor
        late = asyncio.create_task(batcher.run_alone(job("late"), 0.1))
        await asyncio.sleep(0.01)
        assert batcher.depth == 1
        with pytest.raises(Overloaded, match="queue is full"):
            await batcher.run_alone(job("refused"), 5)
        with pytest.raises(Overloaded, match="did not start within"):
            await late
        fake.gate.set()
        assert await running == "running"
        await batcher.stop()
        return started

    assert asyncio.run(scenario()) == ["running"]  # the late job was dropped unstarted


def test_stop_waits_for_the_running_job() -> None:
    async def scenario() -> str:
        fake = FakePredictor()
        batcher = MicroBatcher(fake.run, 1, 0.0, queue_size=4)
        batcher.start()
        fake.gate.clear()
        running = asyncio.create_task(batcher.run_alone(lambda run: "done", 5))
        held = asyncio.create_task(
            batcher.run_alone(lambda run: float(run([item(5)])[0].rois[0, 0]), 5)
        )
        await asyncio.sleep(0.05)
        stopping = asyncio.create_task(batcher.stop())
        await asyncio.sleep(0.05)
        assert not stopping.done()  # the held job is still running
        fake.gate.set()
        await stopping
        assert await held == 5.0
        return str(await running)

    assert asyncio.run(scenario()) == "done"
