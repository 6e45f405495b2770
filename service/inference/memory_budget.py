"""One byte budget for what requests decode and feed at once, across every way in.

Per request, memory is bounded by the limits (pixels, decoding, rois); in total it was not:
every decode and every feed running at once could add up past a pod's limit. Each request
reserves its estimate before it decodes and releases it once its inference is done; while the
budget is spent it waits, first come first served (a large request is not passed over by
smaller ones forever), for at most `wait_s`, then gets 503 with Retry-After. A request larger
than the whole budget reserves all of it, so it runs alone rather than never.
"""

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from service.errors import Overloaded
from service.settings import Settings

MiB = 2**20
SETTING = "REGIONSERVE_MEMORY_BUDGET_MIB"


class MemorySpent(Overloaded):
    title = "Memory budget spent"


@dataclass(eq=False)
class _Waiter:
    nbytes: int
    granted: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass(eq=False)
class Held:
    """A reservation: `release()` gives it back (once; later calls do nothing)."""

    waited_s: float  # spent waiting for it
    release: Callable[[], None]


class MemoryBudget:
    """`async with budget.reserve(nbytes):` holds `nbytes` of `total_bytes` for its block;
    `await budget.hold(nbytes)` until its `release()`, on the event loop's thread."""

    def __init__(self, total_bytes: int, wait_s: float) -> None:
        self.total, self.wait_s = total_bytes, wait_s
        self.used = 0
        self._waiters: deque[_Waiter] = deque()

    @classmethod
    def of(cls, settings: Settings) -> "MemoryBudget":
        """The settings' budget; a request waits for it at most its request timeout."""
        return cls(settings.memory_budget_mib * MiB, settings.request_timeout_s)

    @asynccontextmanager
    async def reserve(self, nbytes: int) -> AsyncIterator[float]:
        """Yields the seconds spent waiting for the reservation."""
        held = await self.hold(nbytes)
        try:
            yield held.waited_s
        finally:
            held.release()

    async def hold(self, nbytes: int) -> Held:
        """`nbytes` (at most the whole budget) held until released."""
        need = min(max(nbytes, 0), self.total)
        start = time.monotonic()
        if need:
            await self._acquire(need)
        held = [need > 0]

        def release() -> None:
            if held[0]:
                held[0] = False
                self._release(need)

        return Held(time.monotonic() - start, release)

    async def _acquire(self, need: int) -> None:
        if not self._waiters and self.used + need <= self.total:
            self.used += need
            return
        waiter = _Waiter(need)
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter.granted), self.wait_s)
        except BaseException as error:  # timed out or cancelled: give back what was granted
            if waiter.granted.done() and not waiter.granted.cancelled():
                self._release(need)
            else:
                waiter.granted.cancel()
                self._waiters.remove(waiter)
                self._grant()  # a large waiter gone may let smaller ones behind it in
            if isinstance(error, TimeoutError):
                raise self._spent(need) from None
            raise

    def _release(self, nbytes: int) -> None:
        self.used -= nbytes
        self._grant()

    def _grant(self) -> None:
        while self._waiters and self.used + self._waiters[0].nbytes <= self.total:
            waiter = self._waiters.popleft()
            self.used += waiter.nbytes
            waiter.granted.set_result(None)

    def _spent(self, need: int) -> MemorySpent:
        return MemorySpent(
            f"the memory budget for decoding and inference ({SETTING} = "
            f"{self.total / MiB:.0f} MiB) stayed spent for {self.wait_s:g} s: this request "
            f"needs {need / MiB:.0f} MiB, {(self.total - self.used) / MiB:.0f} MiB are free; "
            "retry later"
        )
