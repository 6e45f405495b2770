"""How many inference workers, and onnxruntime threads each, the cores available allow."""

import math
import os
from dataclasses import dataclass
from pathlib import Path

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


CORES_PER_PROCESS = 4
# onnxruntime's intra-op threads busy-wait between operators unless told not to. Measured on
# 2 cores with the shipped model (bench/RESULTS.md, onnxruntime threads on the CPU): without
# spinning the server used 19-25 % less CPU per request, CPU that the decoding and HTTP of
# the requests beside it need. Off by default (REGIONSERVE_ORT_SPINNING turns it back on).
SPINNING = False


@dataclass(frozen=True)
class CpuPlan:
    workers: int  # inference threads, each with a session of its own
    threads: int  # onnxruntime intra-op threads per session


def available_cores(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """Cores this process may use: its affinity, capped by a cgroup v2 CPU quota (what a
    container's `cpus:` or a Kubernetes CPU limit sets)."""
    cores = len(os.sched_getaffinity(0))
    try:
        quota, period = cpu_max.read_text().split()
    except (OSError, ValueError):
        return cores
    if quota == "max":
        return cores
    return max(1, min(cores, math.ceil(int(quota) / int(period))))


def cpu_plan(cores: int, workers: int | None = None, threads: int | None = None) -> CpuPlan:
    """Throughput grows with cores when each worker runs its own session on a share of them:
    runs of one shared thread pool wait for each other's parallel sections. Two threads per
    session keep one request's latency low; at least two workers overlap one request's
    decoding with another's inference (on 2 cores the two sessions share both cores, so one
    request alone still runs on two). Either number may be set, the other follows."""
    if workers is None:
        workers = max(2, cores // (threads or 2))
    if threads is None:
        threads = max(min(2, cores), cores // workers)
    return CpuPlan(workers, threads)


def process_count(cores: int) -> int:
    """Server processes: one per CORES_PER_PROCESS cores. One process's threads stop at what
    its GIL allows (HTTP, multipart, numpy glue), about 180 requests per second on 16 cores
    whatever the split between sessions and threads (bench/RESULTS.md); below 8 cores a
    second process's memory and start-up buy little."""
    return max(1, cores // CORES_PER_PROCESS)
