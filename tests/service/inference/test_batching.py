"""The micro-batcher alone, with a fake predictor: batching, overload, deadlines and slots."""

import asyncio
import threading
from collections.abc import Callable

import numpy as np
import pytest

from service.errors import Overloaded
from service.inference.batching import MicroBatcher, RunOne
from service.inference.deadlines import Abandoned, Ticket, within
from service.inference.feed import ModelInput, Scores


def item(value: int) -> ModelInput:
    return ModelInput(np.full((4, 4, 3), value, np.uint8), np.zeros((1, 4), np.float32), None)


class FakePredictor:
    """Echoes each image's first pixel as its score; can be held to build a queue."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.threads: list[str] = []
        self.gate = threading.Event()
        self.gate.set()

    def run(self, batch: list[ModelInput], slot: object) -> list[Scores]:
        self.gate.wait(10)
        self.batches.append(len(batch))
        self.threads.append(threading.current_thread().name)
        return [Scores(np.array([[p.pixels[0, 0, 0]]]), np.zeros((0, 1))) for p in batch]


def test_requests_that_queue_up_are_run_together() -> None:
    async def scenario() -> tuple[list[float], list[int]]:
        fake = FakePredictor()
        batcher = MicroBatcher(fake.run, [0], max_batch_size=4, delay_s=0.0, queue_size=16)
        fake.gate.clear()
        first = asyncio.create_task(batcher.submit(item(0), 5))
        await asyncio.sleep(0.05)  # the first is now running; the rest queue behind it
        rest = [asyncio.create_task(batcher.submit(item(v), 5)) for v in range(1, 8)]
        await asyncio.sleep(0.05)
        fake.gate.set()
        results = await asyncio.gather(first, *rest)
        await batcher.stop()
        return [float(r.rois[0, 0]) for r in results], fake.batches

    values, batches = asyncio.run(scenario())
    assert values == list(range(8))  # each caller gets its own answer
    assert batches == [1, 4, 3]


def test_full_queue_is_refused_with_overloaded() -> None:
    async def scenario() -> None:
        fake = FakePredictor()
        batcher = MicroBatcher(fake.run, [0], max_batch_size=1, delay_s=0.0, queue_size=2)
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


async def held_batcher() -> tuple[FakePredictor, MicroBatcher[int], asyncio.Task[Scores]]:
    """A batcher whose one worker is held inside the predictor on a first request."""
    fake = FakePredictor()
    batcher = MicroBatcher(fake.run, [0], max_batch_size=1, delay_s=0.0, queue_size=4)
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
        batcher = MicroBatcher(fake.run, [0], max_batch_size=1, delay_s=0.0, queue_size=4)
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
        await asyncio.sleep(0.05)  # the cancellation reaches the request's task
        fake.gate.set()
        await running
        await batcher.stop()
        assert gone.cancelled()
        return fake.batches

    assert asyncio.run(scenario()) == [1]


def test_a_job_given_up_while_decoding_stops_short_of_its_run() -> None:
    async def scenario() -> tuple[list[int], list[str]]:
        fake, decoding, steps = FakePredictor(), threading.Event(), []
        batcher = MicroBatcher(fake.run, [0], 1, 0.0, queue_size=4)

        def job(run_one: RunOne) -> None:
            steps.append("decoding")
            decoding.wait(5)  # the caller's deadline passes meanwhile
            run_one(item(0))
            steps.append("ran")

        with pytest.raises(Overloaded, match=r"did not start within 0\.1 s"):
            await batcher.run(job, 0.1)
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


def test_two_slots_run_two_batches_at_once() -> None:
    async def scenario() -> list[str]:
        both_running = threading.Barrier(2, timeout=5)

        slots: list[str] = []

        def run(batch: list[ModelInput], slot: str) -> list[Scores]:
            slots.append(slot)
            both_running.wait()  # breaks (and fails the test) unless two runs overlap
            return [Scores(np.zeros((1, 1)), np.zeros((0, 1))) for _ in batch]

        batcher = MicroBatcher(run, ["a", "b"], max_batch_size=1, delay_s=0.0, queue_size=4)
        await asyncio.gather(*(batcher.submit(item(v), 5) for v in range(4)))
        await batcher.stop()
        return sorted(slots)

    assert asyncio.run(scenario()) == ["a", "a", "b", "b"]  # two at once, never on one slot


def test_a_job_runs_alone_in_an_inference_thread_with_the_predictor() -> None:
    async def scenario() -> tuple[str, float, list[tuple[int, float]]]:
        fake, observed = FakePredictor(), []
        batcher = MicroBatcher(
            fake.run, [0], 1, 0.0, 4, on_batch=lambda size, s: observed.append((size, s))
        )

        def job(run_one: RunOne) -> tuple[str, float]:
            return threading.current_thread().name, float(run_one(item(7)).rois[0, 0])

        thread, score = await batcher.run(job, 5)
        await batcher.stop()
        return thread, score, observed

    thread, score, observed = asyncio.run(scenario())
    assert thread.startswith("inference") and score == 7.0
    assert [size for size, _ in observed] == [1]  # the run inside the job is measured


def test_a_failing_job_fails_its_caller_and_the_worker_goes_on() -> None:
    async def scenario() -> float:
        batcher = MicroBatcher(FakePredictor().run, [0], 1, 0.0, 4)

        def bad(_: RunOne) -> None:
            raise ValueError("undecodable")

        with pytest.raises(ValueError, match="undecodable"):
            await batcher.run(bad, 5)
        scores = await batcher.submit(item(3), 5)
        await batcher.stop()
        return float(scores.rois[0, 0])

    assert asyncio.run(scenario()) == 3.0


def test_jobs_past_the_queue_limit_are_refused_and_late_ones_never_start() -> None:
    async def scenario() -> list[str]:
        fake, started = FakePredictor(), []
        batcher = MicroBatcher(fake.run, [0], 1, 0.0, queue_size=1)
        fake.gate.clear()

        def job(name: str) -> Callable[[RunOne], str]:
            def run(run_one: RunOne) -> str:
                started.append(name)
                run_one(item(0))
                return name

            return run

        running = asyncio.create_task(batcher.run(job("running"), 5))
        await asyncio.sleep(0.05)  # the one thread is held inside the predictor
        late = asyncio.create_task(batcher.run(job("late"), 0.1))
        await asyncio.sleep(0.01)
        assert batcher.depth == 1
        with pytest.raises(Overloaded, match="queue is full"):
            await batcher.run(job("refused"), 5)
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
        batcher = MicroBatcher(fake.run, [0], 1, 0.0, queue_size=4)
        fake.gate.clear()
        running = asyncio.create_task(batcher.run(lambda run: "done", 5))
        held = asyncio.create_task(
            batcher.run(lambda run_one: float(run_one(item(5)).rois[0, 0]), 5)
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


def test_a_batched_request_decodes_and_runs_in_its_own_thread() -> None:
    """One trip to a thread: alone in the line, a request's image runs where it was decoded."""

    async def scenario() -> tuple[str, list[str]]:
        fake = FakePredictor()
        batcher = MicroBatcher(fake.run, [0], max_batch_size=4, delay_s=0.0, queue_size=4)

        def job(run_one: RunOne) -> str:
            run_one(item(1))
            return threading.current_thread().name

        thread = await batcher.run(job, 5)
        await batcher.stop()
        return thread, fake.threads

    thread, ran_in = asyncio.run(scenario())
    assert ran_in == [thread]


def test_the_gatherer_waits_up_to_the_delay_for_a_fuller_batch() -> None:
    async def scenario() -> tuple[list[float], list[int]]:
        fake = FakePredictor()
        batcher = MicroBatcher(fake.run, [0], max_batch_size=4, delay_s=0.3, queue_size=8)
        first = asyncio.create_task(batcher.submit(item(0), 5))
        await asyncio.sleep(0.05)  # the first waits for company
        rest = [asyncio.create_task(batcher.submit(item(v), 5)) for v in (1, 2)]
        results = await asyncio.gather(first, *rest)
        await batcher.stop()
        return [float(r.rois[0, 0]) for r in results], fake.batches

    assert asyncio.run(scenario()) == ([0.0, 1.0, 2.0], [3])


def test_images_given_up_in_the_line_are_left_out_of_their_batch() -> None:
    async def scenario() -> tuple[list[int], float]:
        fake = FakePredictor()
        batcher = MicroBatcher(fake.run, [0], max_batch_size=4, delay_s=0.0, queue_size=8)
        fake.gate.clear()
        running = asyncio.create_task(batcher.submit(item(1), 5))
        await asyncio.sleep(0.05)  # the one slot is held; the next image waits in the line
        with pytest.raises(Overloaded, match=r"did not start within 0\.1 s"):
            await batcher.submit(item(2), 0.1)
        kept = asyncio.create_task(batcher.submit(item(3), 5))
        await asyncio.sleep(0.05)
        fake.gate.set()
        await running
        score = float((await kept).rois[0, 0])
        await batcher.stop()
        return fake.batches, score

    assert asyncio.run(scenario()) == ([1, 1], 3.0)  # image 2 never ran


def test_a_failed_batch_fails_each_of_its_requests_and_the_line_goes_on() -> None:
    async def scenario() -> tuple[list[str], float]:
        calls = 0

        def run(batch: list[ModelInput], slot: int) -> list[Scores]:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("the device is gone")
            return [Scores(np.array([[p.pixels[0, 0, 0]]]), np.zeros((0, 1))) for p in batch]

        batcher = MicroBatcher(run, [0], max_batch_size=4, delay_s=0.2, queue_size=8)
        failed = await asyncio.gather(
            *(batcher.submit(item(v), 5) for v in (1, 2)), return_exceptions=True
        )
        scores = await batcher.submit(item(7), 5)
        await batcher.stop()
        return [str(error) for error in failed], float(scores.rois[0, 0])

    assert asyncio.run(scenario()) == (["the device is gone"] * 2, 7.0)


def test_whole_feeds_take_a_slot_for_their_job() -> None:
    """V2 feeds run on the slots too: never two on one slot, whatever the threads."""

    async def scenario() -> list[tuple[str, str]]:
        steps: list[tuple[str, str]] = []

        def job(name: str) -> Callable[[str], None]:
            def on(slot: str) -> None:
                steps.append(("start", slot))
                threading.Event().wait(0.05)
                steps.append(("end", slot))

            return on

        batcher: MicroBatcher[str] = MicroBatcher(
            FakePredictor().run, ["only"], max_batch_size=4, delay_s=0.0, queue_size=8
        )
        await asyncio.gather(*(batcher.run_job(job(n), 5) for n in "abc"))
        await batcher.stop()
        return steps

    assert asyncio.run(scenario()) == [("start", "only"), ("end", "only")] * 3


def test_a_request_whose_batch_has_run_returns_without_running_the_next_batch() -> None:
    """A thread whose image is in a running batch waits for its scores only: it never
    gathers the next batch, which would hold its own answer for a whole run."""

    async def scenario() -> bool:
        fake, second_answered, waited = FakePredictor(), threading.Event(), []

        def run(batch: list[ModelInput], slot: object) -> list[Scores]:
            if int(batch[0].pixels[0, 0, 0]) >= 4:  # the third batch: after B and C answered
                waited.append(second_answered.wait(2))
            return fake.run(batch, slot)

        batcher = MicroBatcher(run, [0], max_batch_size=2, delay_s=0.0, queue_size=8)
        fake.gate.clear()
        first = asyncio.create_task(batcher.submit(item(1), 5))
        await asyncio.sleep(0.05)  # A runs alone, held; B, C, D, E wait in the line
        rest = [asyncio.create_task(batcher.submit(item(v), 5)) for v in (2, 3, 4, 5)]
        await asyncio.sleep(0.05)
        fake.gate.set()
        await asyncio.gather(first, rest[0], rest[1])
        second_answered.set()
        await asyncio.gather(*rest)
        await batcher.stop()
        return waited == [True]

    assert asyncio.run(scenario())


class Halt(BaseException):
    """Not an Exception: what a run might raise that no `except Exception` catches."""


def test_every_request_of_a_batch_hears_of_an_interrupted_run() -> None:
    async def scenario() -> list[str]:
        def run(batch: list[ModelInput], slot: object) -> list[Scores]:
            raise Halt("stop")

        batcher = MicroBatcher(run, [0], max_batch_size=4, delay_s=0.2, queue_size=8)
        requests = (batcher.submit(item(v), 5) for v in range(3))
        outcomes = await asyncio.wait_for(asyncio.gather(*requests, return_exceptions=True), 5)
        await batcher.stop()
        return sorted(type(o).__name__ for o in outcomes)

    assert asyncio.run(scenario()) == ["Halt", "RuntimeError", "RuntimeError"]


def test_a_run_with_too_few_results_fails_its_batch() -> None:
    async def scenario() -> list[str]:
        batcher = MicroBatcher(lambda batch, slot: [], [0], 4, 0.2, queue_size=8)
        requests = (batcher.submit(item(v), 5) for v in range(2))
        outcomes = await asyncio.wait_for(asyncio.gather(*requests, return_exceptions=True), 5)
        await batcher.stop()
        return [str(o) for o in outcomes]

    assert asyncio.run(scenario()) == ["0 results for a batch of 2 images"] * 2


def test_jobs_after_stop_are_refused_as_overloaded() -> None:
    async def scenario() -> None:
        batcher = MicroBatcher(FakePredictor().run, [0], 4, 0.0, queue_size=8)
        await batcher.submit(item(1), 5)
        await batcher.stop()
        with pytest.raises(Overloaded, match="stopping"):
            await batcher.submit(item(2), 5)

    asyncio.run(scenario())


def test_on_done_waits_for_the_thread_even_when_the_caller_has_left() -> None:
    """What a request holds (its memory reservation) is given back when its thread is done
    with it, not when its caller stops waiting; a refused request gives it back at once."""

    async def scenario() -> list[str]:
        events: list[str] = []
        decoding = threading.Event()
        batcher = MicroBatcher(FakePredictor().run, [0], 1, 0.0, queue_size=1)

        def job(run_one: RunOne) -> None:
            decoding.wait(5)  # the caller's deadline passes meanwhile
            events.append("job ended")

        with pytest.raises(Overloaded, match="did not start"):
            await batcher.run(job, 0.1, on_done=lambda: events.append("done"))
        events.append("caller left")
        waiting = asyncio.create_task(batcher.run(lambda run_one: None, 5))  # for the thread
        await asyncio.sleep(0.01)
        with pytest.raises(Overloaded, match="queue is full"):
            await batcher.run(job, 5, on_done=lambda: events.append("refused, done"))
        decoding.set()
        await waiting
        await batcher.stop()
        await asyncio.sleep(0.01)  # the callback is scheduled on the loop
        return events

    assert asyncio.run(scenario()) == ["caller left", "refused, done", "job ended", "done"]
