"""Timing and memory measurement, each contender in a fresh process."""

import multiprocessing
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Measurement:
    median_ms: float
    p90_ms: float
    peak_mib: float  # growth of the process's peak resident memory during setup and runs


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


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _worker(setup: Callable[..., Callable[[], Any]], args: tuple, repeats: int, queue: Any) -> None:
    before = _peak_rss_mib()
    fn = setup(*args)
    median, p90 = time_calls(fn, repeats)
    queue.put(Measurement(median, p90, _peak_rss_mib() - before))


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
