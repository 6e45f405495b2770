"""RegionServe side by side with Keras served directly (and BentoML where installed).

Contenders are interleaved (A B C, A B C, ...) over ROUNDS rounds; each round starts a fresh
server process, times it to ready, loads it with the same requests from the same generator,
reads its resident memory, and stops it. Tables give medians over rounds and the ratio of
RegionServe's throughput to each contender's, per round.
"""

import statistics
import sys
from dataclasses import dataclass

from bench.contenders.registry import CONTENDERS, Request, available
from bench.load import LoadResult, run_load
from bench.report import table, write_section
from bench.scenes import request_images

ROUNDS = 3
CONCURRENCY = (1, 8, 32)
REFERENCE = "RegionServe (CPU defaults)"


@dataclass(frozen=True)
class Workload:
    name: str
    requests: list[Request]
    counts: dict[int, int]  # concurrency -> number of requests


def workloads() -> list[Workload]:
    boxed: list[Request] = [(i, b) for i, b in request_images(count=8, side=512, boxes=32)]
    return [
        Workload("512x512, 32 boxes", boxed, {1: 12, 8: 32, 32: 64}),
        Workload("512x512, proposals", [(i, None) for i, _ in boxed[:4]], {1: 3, 8: 8, 32: 32}),
    ]


Sample = dict[str, float]


def measure(name: str, loads: list[Workload]) -> dict[str, Sample]:
    """One round of one contender: ready time, each load, then resident memory."""
    contender = CONTENDERS[name]
    server = contender.start()
    try:
        out: dict[str, Sample] = {"start": {"ready_s": server.ready_s}}
        url = server.base + "/classify-regions"
        for load in loads:
            payloads = [contender.encode(r) for r in load.requests]
            run_load(url, payloads, 2, 4)  # warm-up
            for c in CONCURRENCY:
                r: LoadResult = run_load(url, payloads, c, load.counts[c])
                out[f"{load.name}|{c}"] = {
                    "p50": r.p50_ms,
                    "p99": r.p99_ms,
                    "rps": r.throughput,
                    "errors": r.errors,
                }
        out["start"]["rss_mib"] = server.rss_mib()
        return out
    finally:
        server.stop()


def main() -> None:
    names = available()
    loads = workloads()
    rounds: list[dict[str, dict[str, Sample]]] = []
    for r in range(ROUNDS):
        rounds.append({})
        for name in names:  # interleaved: every contender once per round
            print(f"round {r + 1}/{ROUNDS}: {name}", file=sys.stderr, flush=True)
            rounds[-1][name] = measure(name, loads)
    sections = [_load_table(rounds, names, load) for load in loads] + [_start_table(rounds, names)]
    skipped = sorted(set(CONTENDERS) - set(names))
    note = (
        f"{ROUNDS} rounds, contenders interleaved within each round, a fresh server per round; "
        "medians over rounds; 'x ref' is RegionServe (CPU defaults: batching off, 2 inference "
        "workers) throughput over the contender's, per round. One load generator (a minimal "
        "HTTP/1.1 client, keep-alive, request bytes prepared before the run) on the same machine."
        + (f" Not installed here, so not measured: {', '.join(skipped)}." if skipped else "")
    )
    write_section(
        "compare", "RegionServe vs the alternatives (CPU)", note + "\n\n" + "\n\n".join(sections)
    )


def _median(rounds: list, name: str, key: str, field: str) -> float:
    return statistics.median(r[name][key][field] for r in rounds)


def _load_table(rounds: list, names: list[str], load: Workload) -> str:
    rows = []
    for c in CONCURRENCY:
        key = f"{load.name}|{c}"
        for name in names:
            ratios = [r[REFERENCE][key]["rps"] / r[name][key]["rps"] for r in rounds]
            rows.append(
                [
                    name,
                    str(c),
                    f"{_median(rounds, name, key, 'rps'):.1f}",
                    f"{_median(rounds, name, key, 'p50'):.0f}",
                    f"{_median(rounds, name, key, 'p99'):.0f}",
                    " / ".join(f"{x:.2f}" for x in ratios),
                    str(int(sum(r[name][key]["errors"] for r in rounds))),
                ]
            )
    header = ["contender", "concurrency", "req/s", "p50 ms", "p99 ms", "x ref per round", "errors"]
    return f"### {load.name}\n\n" + table(header, rows)


def _start_table(rounds: list, names: list[str]) -> str:
    rows = [
        [
            name,
            f"{_median(rounds, name, 'start', 'ready_s'):.2f}",
            f"{_median(rounds, name, 'start', 'rss_mib'):.0f}",
        ]
        for name in names
    ]
    return "### Start and memory\n\n" + table(
        ["contender", "process start to ready (s)", "resident memory after the run (MiB)"], rows
    )


if __name__ == "__main__":
    main()
