"""The Open Inference Protocol v2 vs the region API vs in-process loops, on the same requests.

Three ways to ask one served model about the same 512x512 scenes and 32 boxes: the region
API (multipart), V2 `<name>-regions` (binary: the PNG as BYTES, the boxes as FP32) and V2
infer on the model itself (binary tensors: the feed the service builds, prepared by the
client). Each is set against the loop that does the same work in process, measured in the
same round, at concurrency 1 and 8 and in interleaved pairs; then the protocol's codec alone.
"""

import os
from dataclasses import dataclass
from statistics import median

from bench.load import Payload, own_cpu_seconds, regionserve, run_load, run_paired
from bench.report import table, write_section
from bench.scenes import request_images
from bench.service_latency import MODEL, InProcessLoop, Measured
from bench.v2_codec import codec_section
from bench.v2_payloads import FeedLoop, binary_payload, regions_payload

CONCURRENCY = (1, 8)
REQUESTS = 48  # per row and round (at least 4 per client)
ROUNDS = 3
TOP_K = 3


@dataclass(frozen=True)
class Contender:
    label: str
    path: str
    payloads: list[Payload]
    loop: InProcessLoop  # the same work without HTTP


@dataclass(frozen=True)
class Round:
    baselines: dict[str, Measured]  # the contender's loop, right before the server started
    loads: dict[tuple[str, int], Measured]  # by contender and concurrency
    pairs: dict[str, list[tuple[float, float]]]  # (loop ms, request ms), one by one


def contenders() -> tuple[list[Contender], FeedLoop]:
    requests = request_images(count=16, side=512, boxes=32)
    pipeline, feeds = InProcessLoop(requests), FeedLoop(requests)
    model = pipeline.predictor.info.name
    region_api = [
        Payload.multipart({"image": ("x.png", image)}, {"boxes": str(b), "top_k": str(TOP_K)})
        for image, b in requests
    ]
    entries = [
        Contender("region API (multipart)", "/classify-regions", region_api, pipeline),
        Contender(
            f"V2 {model}-regions (binary)",
            f"/v2/models/{model}-regions/infer",
            [regions_payload(image, b, TOP_K) for image, b in requests],
            pipeline,
        ),
        Contender(
            f"V2 {model} infer (binary tensors)",
            f"/v2/models/{model}/infer",
            [binary_payload(feed) for feed in feeds.feeds],
            feeds,
        ),
    ]
    return entries, feeds


def measure_round(entries: list[Contender]) -> Round:
    baselines = {c.label: c.loop.measure(REQUESTS) for c in entries}
    server = regionserve({"REGIONSERVE_MODEL_PATH": str(MODEL)})
    try:
        for c in entries:
            run_load(server.base + c.path, c.payloads, 2, 8)  # warm connections and shapes
        loads = {}
        for c in entries:
            for n in CONCURRENCY:
                server_cpu, client_cpu = server.cpu_seconds(), own_cpu_seconds()
                result = run_load(server.base + c.path, c.payloads, n, max(REQUESTS, 4 * n))
                answered = max(max(REQUESTS, 4 * n) - result.errors, 1)
                loads[c.label, n] = Measured(
                    result,
                    (server.cpu_seconds() - server_cpu) / answered * 1e3,
                    (own_cpu_seconds() - client_cpu) / answered * 1e3,
                )
        pairs = {
            c.label: run_paired(server.base + c.path, c.payloads, REQUESTS, c.loop.one)
            for c in entries
        }
    finally:
        server.stop()
    return Round(baselines, loads, pairs)


def main() -> None:
    entries, feed_loop = contenders()
    load_before = os.getloadavg()[0]
    rounds = [measure_round(entries) for _ in range(ROUNDS)]
    machine_load = f"{load_before:.1f} before the rounds, {os.getloadavg()[0]:.1f} after"
    loads = table(
        ["contender", "concurrency", "p50 ms", "p99 ms", "req/s", "p50 - loop p50, ms",
         "throughput vs loop", "server CPU ms / request", "errors"],
        [_load_row(c.label, n, rounds) for c in entries for n in CONCURRENCY],
    )  # fmt: skip
    pairs = table(
        ["contender", "pairs", "loop p50 ms", "request p50 ms", "median paired difference, ms"],
        [_pairs_row(c.label, [r.pairs[c.label] for r in rounds]) for c in entries],
    )
    note = (
        f"16 different 512x512 PNG scenes ({_kb(entries[0])}) with 32 boxes each, top_k "
        f"{TOP_K}; one server with the shipped settings per round, {REQUESTS} requests per "
        f"row, {ROUNDS} "
        "rounds, medians over rounds with each round's range in brackets. The loops are "
        "measured right before the server starts in each round: decode, prepare, session.run "
        "and regions for the first two contenders; predictor.run_feed on the feed the "
        "service builds (decoded and prepared beforehand) for V2 infer on the model, whose "
        f"body is that feed's tensors ({_kb(entries[2])}). The load generator is the service "
        f"table's. The machine's 1-minute load average: {machine_load} (2 cores: other work "
        "on the machine widens the rounds' ranges)."
    )
    paired_note = (
        "Concurrency 1 again as interleaved pairs (one loop iteration, then the same request "
        "to the server): the median of request minus loop is what HTTP and the protocol add "
        "per request on top of the same work."
    )
    region_api, regions, infer = (c.payloads[0] for c in entries)
    codec = codec_section(feed_loop, region_api, regions, infer, TOP_K)
    body = f"{note}\n\n{loads}\n\n{paired_note}\n\n{pairs}\n\n{codec}\n"
    write_section("v2", "Open Inference Protocol v2 vs the region API (CPU)", body)


def _load_row(label: str, concurrency: int, rounds: list[Round]) -> list[str]:
    measured = [r.loads[label, concurrency] for r in rounds]
    base = [r.baselines[label] for r in rounds]
    over = [m.load.p50_ms - b.load.p50_ms for m, b in zip(measured, base, strict=True)]
    ratio = [m.load.throughput / b.load.throughput for m, b in zip(measured, base, strict=True)]
    return [
        label,
        str(concurrency),
        f"{median(m.load.p50_ms for m in measured):.1f}",
        f"{median(m.load.p99_ms for m in measured):.1f}",
        f"{median(m.load.throughput for m in measured):.1f}",
        _with_range(over, "+.2f"),
        _with_range(ratio, ".2f"),
        f"{median(m.server_cpu_ms for m in measured):.1f}",
        str(sum(m.load.errors for m in measured)),
    ]


def _pairs_row(label: str, rounds: list[list[tuple[float, float]]]) -> list[str]:
    pairs = [pair for r in rounds for pair in r]
    per_round = [median(b - a for a, b in r) for r in rounds]
    return [
        label,
        str(len(pairs)),
        f"{median(a for a, _ in pairs):.1f}",
        f"{median(b for _, b in pairs):.1f}",
        f"{median(b - a for a, b in pairs):+.2f} ({min(per_round):+.2f} to {max(per_round):+.2f})",
    ]


def _kb(contender: Contender) -> str:
    return f"{median(len(p.body) for p in contender.payloads) / 1e3:.0f} KB per body"


def _with_range(values: list[float], spec: str) -> str:
    return f"{median(values):{spec}} ({min(values):{spec}} to {max(values):{spec}})"


if __name__ == "__main__":
    main()
