"""RegionServe end to end vs an in-process onnxruntime loop over the same requests."""

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import numpy as np

from bench.load import (
    LoadResult,
    Payload,
    Server,
    own_cpu_seconds,
    regionserve,
    run_load,
    run_paired,
)
from bench.report import table, write_section
from bench.scenes import request_images
from service.inference.predictor import Predictor
from service.regions.labels import box_regions
from service.regions.prepare import prepare_request
from service.regions.request import RegionRequest
from service.settings import Settings

MODEL = Path("models/region_classifier.onnx")
CONCURRENCY = (1, 8, 32)
REQUESTS = 96  # per concurrency level (at least 4 per client)
ROUNDS = 5
CONTENDERS = (
    ("RegionServe, batching off, 2 workers (CPU default)", {"REGIONSERVE_MAX_BATCH_SIZE": "1"}),
    (
        "RegionServe, batching off, 1 worker",
        {"REGIONSERVE_MAX_BATCH_SIZE": "1", "REGIONSERVE_INFERENCE_WORKERS": "1"},
    ),
    ("RegionServe, batching on (8)", {"REGIONSERVE_MAX_BATCH_SIZE": "8"}),
)


@dataclass(frozen=True)
class Measured:
    load: LoadResult
    server_cpu_ms: float  # CPU per request: the server, or the loop itself
    client_cpu_ms: float  # CPU per request of the load generator (0 for the loop)


class InProcessLoop:
    """decode, prepare, session.run and regions, one request after another, no HTTP."""

    def __init__(self, requests: list[tuple[bytes, list]]) -> None:
        self.requests = requests
        self.settings = Settings(model_path=MODEL)
        self.predictor = Predictor.from_settings(self.settings)
        for i in range(3):
            self.one(i)

    def one(self, i: int) -> None:
        image, boxes = self.requests[i % len(self.requests)]
        request = RegionRequest(image, boxes, 3, "boxes")
        prepared = prepare_request(self.predictor.info, self.settings, request, "boxes")
        scores = self.predictor.run([prepared.item])[0]
        box_regions(self.predictor.info, prepared.boxes, scores.rois, 3)

    def measure(self, count: int) -> Measured:
        latencies = []
        cpu, start = own_cpu_seconds(), time.perf_counter()
        for i in range(count):
            t = time.perf_counter()
            self.one(i)
            latencies.append((time.perf_counter() - t) * 1e3)
        wall, cpu = time.perf_counter() - start, own_cpu_seconds() - cpu
        latencies.sort()
        result = LoadResult(
            float(np.median(latencies)), latencies[int(0.99 * (count - 1))], count / wall, 0
        )
        return Measured(result, cpu / count * 1e3, 0.0)


@dataclass(frozen=True)
class Round:
    baseline: Measured  # the loop, right before the contender
    loads: dict[int, Measured]  # by concurrency
    pairs: list[tuple[float, float]]  # (loop ms, request ms), interleaved one by one


def measure_contender(loop: InProcessLoop, env: dict[str, str], payloads: list[Payload]) -> Round:
    """The loop right before (so drift on a shared machine moves both alike), then a fresh
    server at each concurrency, then loop iterations and single requests in alternation."""
    baseline = loop.measure(REQUESTS)
    with serving(env, payloads) as served:
        loads = {}
        for c in CONCURRENCY:
            server_cpu, client_cpu = served.server.cpu_seconds(), own_cpu_seconds()
            sent = max(REQUESTS, 4 * c)
            result = run_load(served.classify, payloads, c, sent)
            answered = max(sent - result.errors, 1)
            loads[c] = Measured(
                result,
                (served.server.cpu_seconds() - server_cpu) / answered * 1e3,
                (own_cpu_seconds() - client_cpu) / answered * 1e3,
            )
        pairs = run_paired(served.classify, payloads, REQUESTS, loop.one)
    return Round(baseline, loads, pairs)


@dataclass(frozen=True)
class Served:
    server: Server
    classify: str  # the /classify-regions URL


@contextmanager
def serving(env: dict[str, str], payloads: list[Payload]) -> Iterator[Served]:
    """A fresh RegionServe process serving the shipped model, warm, stopped afterwards."""
    server = regionserve({**env, "REGIONSERVE_MODEL_PATH": str(MODEL)})
    try:
        served = Served(server, server.base + "/classify-regions")
        run_load(served.classify, payloads, 2, 8)  # warm the connections
        yield served
    finally:
        server.stop()


def main() -> None:
    requests = request_images(count=16, side=512, boxes=32)
    payloads = [
        Payload.multipart({"image": ("x.png", image)}, {"boxes": json.dumps(b)})
        for image, b in requests
    ]
    loop = InProcessLoop(requests)
    rounds = [
        {label: measure_contender(loop, env, payloads) for label, env in CONTENDERS}
        for _ in range(ROUNDS)
    ]
    baselines = [r[label].baseline for r in rounds for label, _ in CONTENDERS]
    rows = [["in-process loop", "1", *_median_cells(baselines, baselines)]]
    for label, _ in CONTENDERS:
        for c in CONCURRENCY:
            measured = [r[label].loads[c] for r in rounds]
            rows.append(
                [label, str(c), *_median_cells(measured, [r[label].baseline for r in rounds])]
            )
    body = table(
        [
            "contender",
            "concurrency",
            "p50 ms",
            "p99 ms",
            "req/s",
            "p50 - loop p50, ms (rounds' range)",
            "throughput vs loop (rounds' range)",
            "CPU ms / request",
            "load generator CPU ms / request",
            "errors",
        ],
        rows,
    )
    note = (
        f"One 512x512 PNG scene (586 KB) with 32 boxes per request (16 different scenes), boxes "
        f"mode, {REQUESTS} requests per row (at least 4 per client), {ROUNDS} rounds; every "
        "figure is the median over rounds. The loop does the same decode, preparation, "
        "session.run (same session settings) and response regions without HTTP, and is measured "
        "again right before each contender in each round; differences and ratios are per round "
        "against that measurement, then the median. The load generator (a minimal HTTP/1.1 "
        "client on asyncio streams, like wrk: request bytes prepared before the run, one "
        "keep-alive connection per client) shares the machine with the server. CPU ms / "
        "request is user + system time of the server process (of the loop itself for the loop) "
        "per answered request: with both cores busy, throughput is bounded "
        "by 2000 / (server + load generator CPU ms)."
    )
    paired = table(
        [
            "contender",
            "pairs",
            "loop p50 ms",
            "request p50 ms",
            "median paired difference, ms (rounds' range)",
        ],
        [[label, *_paired_cells([r[label].pairs for r in rounds])] for label, _ in CONTENDERS],
    )
    paired_note = (
        f"Concurrency 1 again, as {REQUESTS} pairs per round: one loop iteration, then the same "
        "request through the server (on a blocking socket: with one request in flight there is "
        "nothing to multiplex), alternating, so that both halves of a pair meet the same "
        "load from the machine's neighbours (rounds above differ by several ms at concurrency "
        "1). The service overhead is the median of request minus loop over all pairs. Both "
        "sides run with the shipped session settings: onnxruntime's threads spin during a run "
        "and stop when it returns, so neither side's threads spin through the other's run."
    )
    write_section(
        "service",
        "Service vs in-process loop (CPU)",
        f"{note}\n\n{body}\n\n{paired_note}\n\n{paired}\n",
    )


def _median_cells(measured: list[Measured], baselines: list[Measured]) -> list[str]:
    pairs = list(zip(measured, baselines, strict=True))
    return [
        f"{median(m.load.p50_ms for m in measured):.1f}",
        f"{median(m.load.p99_ms for m in measured):.1f}",
        f"{median(m.load.throughput for m in measured):.1f}",
        _median_and_range([m.load.p50_ms - b.load.p50_ms for m, b in pairs], "+.1f"),
        _median_and_range([m.load.throughput / b.load.throughput for m, b in pairs], ".2f"),
        f"{median(m.server_cpu_ms for m in measured):.1f}",
        f"{median(m.client_cpu_ms for m in measured):.1f}",
        str(sum(m.load.errors for m in measured)),
    ]


def _paired_cells(rounds: list[list[tuple[float, float]]]) -> list[str]:
    pairs = [pair for r in rounds for pair in r]
    per_round = [median(b - a for a, b in r) for r in rounds]
    return [
        str(len(pairs)),
        f"{median(loop_ms for loop_ms, _ in pairs):.1f}",
        f"{median(request_ms for _, request_ms in pairs):.1f}",
        f"{median(b - a for a, b in pairs):+.2f} {_range(per_round, '+.2f')}",
    ]


def _median_and_range(values: list[float], spec: str) -> str:
    return f"{median(values):{spec}} {_range(values, spec)}"


def _range(rounds: list[float], spec: str) -> str:
    """The lowest and highest round: how far one round can be trusted."""
    return f"({min(rounds):{spec}} to {max(rounds):{spec}})"


if __name__ == "__main__":
    main()
