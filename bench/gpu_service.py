"""The service end to end on CUDA, against the CPU provider on the same machine and against an
in-process loop on CUDA (the same pipeline and micro-batcher, decoding in the same thread
pool, without HTTP); the CPU provider's workers x threads; labels per mode on both providers."""

import asyncio
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import cv2
import httpx

from bench.load import Latencies, LoadResult, Payload, Server, regionserve, run_load_spread
from bench.report import table
from bench.scenes import request_images
from service.inference.predictor import Predictor
from service.metrics import Metrics
from service.regions.request import RegionRequest
from service.runtime import ModelRuntime
from service.settings import Settings

SCENES = {"512x512, 32 boxes": (512, 32), "1024x1024, 64 boxes": (1024, 64)}
CONCURRENCY = (1, 8, 32, 64)
SECONDS = 2.5  # per load row
READY_TIMEOUT_S = 30.0
CPU_ONLY = {"REGIONSERVE_PROVIDERS": '["CPUExecutionProvider"]'}
NO_SPINNING = {"REGIONSERVE_ORT_SPINNING": "false"}
HEADER = ["contender", "scene", "concurrency", "req/s", "p50 ms", "p99 ms", "errors", "vs"]


def scene_payloads() -> dict[str, tuple[list[tuple[bytes, list]], list[Payload]]]:
    found = {}
    for name, (side, boxes) in SCENES.items():
        requests = request_images(count=8, side=side, boxes=boxes, seed=side)
        payloads = [
            Payload.multipart({"image": ("x.png", image)}, {"boxes": json.dumps(b)})
            for image, b in requests
        ]
        found[name] = (requests, payloads)
    return found


@contextmanager
def serving(env: dict[str, str]) -> Iterator[Server]:
    server = regionserve(env, READY_TIMEOUT_S)
    try:
        yield server
    finally:
        server.stop()


def load(server: Server, payloads: list[Payload], concurrency: int) -> LoadResult:
    url = server.base + "/classify-regions"
    run_load_spread(url, payloads, min(concurrency, 8), 0.5, 1)  # warm connections and arenas
    return run_load_spread(url, payloads, concurrency, SECONDS, min(4, concurrency))


def cells(result: LoadResult, baseline: LoadResult | None) -> list[str]:
    ratio = f"{result.throughput / baseline.throughput:.2f}x" if baseline else ""
    return [
        f"{result.throughput:.1f}",
        f"{result.p50_ms:.1f}",
        f"{result.p99_ms:.1f}",
        errors(result),
        ratio,
    ]


def errors(result: LoadResult) -> str:
    """`12 (503 x10, 500 x2)`: how many answers were not 200, and what they were."""
    if not result.errors:
        return "0"
    return f"{result.errors} ({', '.join(f'{s} x{n}' for s, n in result.error_statuses)})"


def measure_servers(
    contenders: dict[str, dict[str, str]],
    scenes: dict,
    baselines: dict,
    concurrency: tuple[int, ...] = CONCURRENCY,
) -> tuple[list[list[str]], list[str]]:
    """Rows per contender, scene and concurrency, with each one's ratio to `baselines`."""
    rows, notes = [], []
    for label, env in contenders.items():
        try:
            with serving(env) as server:
                provider = httpx.get(server.base + "/readyz", timeout=5).json()
                notes.append(f"{label}: ready in {server.ready_s:.1f} s, {provider}")
                for scene, (_, payloads) in scenes.items():
                    for c in concurrency:
                        result = cells(load(server, payloads, c), baselines.get((scene, c)))
                        rows.append([label, scene, str(c), *result])
        except RuntimeError as error:  # never ready: the row says why, the run goes on
            notes.append(f"{label}: FAILED {error}")
    return rows, notes


def loop_results(scenes: dict) -> dict[tuple[str, int], LoadResult]:
    """The in-process loop on CUDA: ModelRuntime's pipeline with `c` concurrent callers."""
    return asyncio.run(_loop_results(scenes))


async def _loop_results(scenes: dict) -> dict[tuple[str, int], LoadResult]:
    settings = Settings()
    runtime = ModelRuntime(settings, Predictor.from_settings(settings), Metrics())
    runtime.start()
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not runtime.ready and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    results = {}
    for scene, (requests, _) in scenes.items():
        for c in CONCURRENCY:
            results[(scene, c)] = await _callers(runtime, requests, c)
    await runtime.stop()
    return results


async def _callers(runtime: ModelRuntime, requests: list, concurrency: int) -> LoadResult:
    latencies: list[float] = []
    start = time.perf_counter()

    async def caller(i: int) -> None:
        while time.perf_counter() - start < SECONDS:
            image, boxes = requests[i % len(requests)]
            t = time.perf_counter()
            await runtime.pipeline.classify(RegionRequest(image, boxes, 3, "boxes"))
            latencies.append((time.perf_counter() - t) * 1e3)
            i += concurrency

    await asyncio.gather(*(caller(i) for i in range(concurrency)))
    return Latencies(latencies, 0, time.perf_counter() - start).result()


def labels_per_mode(requests: list[tuple[bytes, list]]) -> list[list[str]]:
    """Each mode's labels on CUDA and on the CPU provider, for the same images."""
    modes = ["boxes", "superpixels"] + (["proposals"] if hasattr(cv2, "ximgproc") else [])
    answers: dict[str, dict[str, Any]] = {}
    for label, env in (("CUDA", {}), ("CPU", CPU_ONLY)):
        with serving(env) as server:
            answers[label] = {m: _labels(server, requests, m) for m in modes}
    rows = []
    for mode in modes:
        same = answers["CUDA"][mode] == answers["CPU"][mode]
        count = sum(len(a) for a in answers["CUDA"][mode])
        rows.append([mode, str(count), "same" if same else "DIFFERENT"])
    if "proposals" not in modes:
        rows.append(["proposals", "-", "not run: no opencv-contrib (selective search) here"])
    return rows


def _labels(server: Server, requests: list[tuple[bytes, list]], mode: str) -> list[list[str]]:
    found = []
    for image, boxes in requests[:4]:
        data = {"mode": mode} | ({"boxes": json.dumps(boxes)} if mode == "boxes" else {})
        response = httpx.post(
            server.base + "/classify-regions",
            files={"image": ("x.png", image)},
            data=data,
            timeout=60,
        )
        found.append([r["label"] for r in response.json().get("regions", [])] or [response.text])
    return found


def service_tables() -> str:
    scenes = scene_payloads()
    loop = loop_results(scenes)
    gpu = {"CUDA, batching on (8)": {}, "CUDA, batching off": {"REGIONSERVE_MAX_BATCH_SIZE": "1"}}
    gpu_rows, notes = measure_servers(gpu, scenes, loop)
    cpu_rows, cpu_notes = measure_servers({"CPU provider (default plan)": CPU_ONLY}, scenes, {})
    cpu_base = {(r[1], int(r[2])): float(r[3]) for r in cpu_rows}
    for row in gpu_rows:
        row.append(f"{float(row[3]) / cpu_base.get((row[1], int(row[2])), float('nan')):.1f}x")
    loop_rows = [["in-process loop", s, str(c), *cells(r, None)] for (s, c), r in loop.items()]
    first = next(iter(SCENES))
    sweep = {f"CUDA, {n} processes": {"REGIONSERVE_PROCESSES": str(n)} for n in (1, 4, 8)} | {
        f"CPU, {n} processes": CPU_ONLY | {"REGIONSERVE_PROCESSES": str(n)} for n in (1, 4, 8, 16)
    }
    sweep["CPU, 8 processes, no spinning"] = sweep["CPU, 8 processes"] | NO_SPINNING
    plan_rows, plan_notes = measure_servers(sweep, {first: scenes[first]}, {}, (64,))
    return "\n\n".join(
        [
            f"{os.cpu_count()} CPU cores. Multipart PNG scenes, boxes mode, top_k 3; each row "
            f"{SECONDS:g} s of closed-loop load from up to 4 load-generator processes on the same "
            "machine; vs: throughput over the in-process CUDA loop at the same scene and "
            "concurrency; vs CPU: over the CPU provider's.",
            table([*HEADER, "vs CPU"], gpu_rows),
            table(HEADER, loop_rows + cpu_rows),
            "\n".join(f"- {n}" for n in notes + cpu_notes),
            f"Server processes (REGIONSERVE_PROCESSES; the default is one per 4 cores, each "
            f"with its share of them), concurrency 64, {first}:",
            table(HEADER, plan_rows),
            "\n".join(f"- {n}" for n in plan_notes),
            "Labels per mode, the same 4 scenes on CUDA and on the CPU provider:",
            table(["mode", "regions", "CUDA vs CPU"], labels_per_mode(scenes[first][0])),
        ]
    )
