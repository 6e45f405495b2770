"""The memory budget alone: reservations, waiting in order, the 503 past the wait, and what
is given back on errors and cancellation."""

import asyncio

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from service.http.error_bodies import install_error_handlers
from service.inference.memory_budget import MemoryBudget, MemorySpent

MiB = 2**20


def test_reservations_add_up_and_are_given_back() -> None:
    async def scenario() -> list[int]:
        budget = MemoryBudget(100, wait_s=1)
        seen = []
        async with budget.reserve(30) as waited_s:
            assert waited_s < 0.1
            async with budget.reserve(70):
                seen.append(budget.used)
            seen.append(budget.used)
        seen.append(budget.used)
        return seen

    assert asyncio.run(scenario()) == [100, 30, 0]


def test_a_request_waits_for_memory_then_runs_first_come_first_served() -> None:
    async def scenario() -> tuple[list[str], float]:
        budget = MemoryBudget(100, wait_s=5)
        order: list[str] = []

        async def hold(name: str, nbytes: int, seconds: float) -> float:
            async with budget.reserve(nbytes) as waited_s:
                order.append(name)
                await asyncio.sleep(seconds)
            return waited_s

        first = asyncio.create_task(hold("first", 80, 0.2))
        await asyncio.sleep(0.01)
        large = asyncio.create_task(hold("large", 90, 0))  # waits for first
        await asyncio.sleep(0.01)
        small = asyncio.create_task(hold("small", 10, 0))  # fits, but queues behind large
        waits = await asyncio.gather(first, large, small)
        assert budget.used == 0
        return order, waits[1]

    order, large_waited = asyncio.run(scenario())
    assert order == ["first", "large", "small"]
    assert 0.15 < large_waited < 1


def test_past_the_wait_a_request_gets_503_with_retry_after_naming_the_budget() -> None:
    async def scenario() -> MemorySpent:
        budget = MemoryBudget(100 * MiB, wait_s=0.1)
        async with budget.reserve(90 * MiB):
            with pytest.raises(MemorySpent) as refused:
                async with budget.reserve(20 * MiB):
                    pass
        assert budget.used == 0 and not budget._waiters
        return refused.value

    error = asyncio.run(scenario())
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/spent")
    def spent() -> None:
        raise error

    response = TestClient(app).get("/spent")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Memory budget spent",
        "status": 503,
        "detail": "the memory budget for decoding and inference (REGIONSERVE_MEMORY_BUDGET_MIB "
        "= 100 MiB) stayed spent for 0.1 s: this request needs 20 MiB, 10 MiB are free; "
        "retry later",
    }


def test_an_error_inside_gives_the_memory_back_and_wakes_the_next() -> None:
    async def scenario() -> int:
        budget = MemoryBudget(100, wait_s=5)

        async def fail() -> None:
            async with budget.reserve(100):
                await asyncio.sleep(0.05)
                raise ValueError("decoding failed")

        failing = asyncio.create_task(fail())
        await asyncio.sleep(0.01)
        async with budget.reserve(100):
            used = budget.used
        with pytest.raises(ValueError):
            await failing
        return used + budget.used

    assert asyncio.run(scenario()) == 100


def test_cancelled_holders_and_waiters_leave_nothing_reserved() -> None:
    async def scenario() -> tuple[int, int, int]:
        budget = MemoryBudget(100, wait_s=5)
        holding = asyncio.Event()

        async def hold(nbytes: int) -> None:
            async with budget.reserve(nbytes):
                holding.set()
                await asyncio.sleep(10)

        holder = asyncio.create_task(hold(60))
        await holding.wait()
        waiter = asyncio.create_task(hold(60))  # waits: 60 + 60 > 100
        await asyncio.sleep(0.01)
        queued = len(budget._waiters)
        waiter.cancel()
        holder.cancel()
        await asyncio.gather(holder, waiter, return_exceptions=True)
        async with budget.reserve(100):  # all of it is free again, at once
            pass
        return queued, budget.used, len(budget._waiters)

    assert asyncio.run(scenario()) == (1, 0, 0)


def test_a_request_larger_than_the_budget_runs_alone() -> None:
    async def scenario() -> list[int]:
        budget = MemoryBudget(100, wait_s=1)
        async with budget.reserve(500):
            used = [budget.used]
        async with budget.reserve(0):
            used.append(budget.used)
        return used

    assert asyncio.run(scenario()) == [100, 0]


def test_a_hold_is_given_back_once_whenever_it_is_released() -> None:
    async def scenario() -> list[int]:
        budget = MemoryBudget(100, 5)
        held = await budget.hold(60)
        used = [budget.used]
        held.release()
        held.release()  # a second release gives back nothing more
        used.append(budget.used)
        async with budget.reserve(100):
            used.append(budget.used)
        return used

    assert asyncio.run(scenario()) == [60, 0, 100]
