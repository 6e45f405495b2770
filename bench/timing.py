"""Timing and memory measurement, each contender in a fresh process."""

import multiprocessing
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Measurement:
    median_ms: float
    p90_ms: float
    peak_mib: float  # peak resident memory during setup and runs, above the size before them


def time_calls(fn: Callable[[], Any], repeats: int, warmup: int = 2) -> tuple[float, float]:
    """Median and 90th percentile of `repeats` calls, in milliseconds."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    samples.sort()
    return statistics.median(samples), samples[int(0.9 * (len(samples) - 1))]


def memory_mib(field: str, pid: int | str = "self") -> float:
    """VmRSS (resident now) or VmHWM (peak resident) of a process, in MiB."""
    with open(f"/proc/{pid}/status") as status:
        return int(next(s for s in status if s.startswith(field + ":")).split()[1]) / 1024


def _worker(setup: Callable[..., Callable[[], Any]], args: tuple, repeats: int, queue: Any) -> None:
    # Linux: "5" resets the peak to the current resident size, so a transient peak of the
    # imports cannot hide the work's (the peak can only be read, never lowered, otherwise).
    Path("/proc/self/clear_refs").write_text("5")
    before = memory_mib("VmRSS")
    fn = setup(*args)
    median, p90 = time_calls(fn, repeats)
    queue.put(Measurement(median, p90, memory_mib("VmHWM") - before))


def measure_in_process(
    setup: Callable[..., Callable[[], Any]], args: tuple, repeats: int
) -> Measurement:
    """Run `setup(*args)` in a fresh process, then time the function it returns.

    Libraries are imported by the worker before the baseline is read (setup must be a
    module-level function), so the peak counts the work, not the imports.
    """
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_worker, args=(setup, args, repeats, queue))
    process.start()
    result = queue.get(timeout=600)
    process.join()
    return result


def measure_contenders(
    setup: Callable[..., Callable[[], Any]], contenders: tuple[str, ...], size: int, repeats: int
) -> dict[str, Measurement]:
    """Each contender at one problem size, each in its own fresh process."""
    return {c: measure_in_process(setup, (c, size), repeats) for c in contenders}
