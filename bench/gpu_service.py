"""The service end to end on CUDA, against the CPU provider on the same machine and against an
in-process loop on CUDA (the same pipeline and micro-batcher, decoding in the same thread
pool, without HTTP); the CPU provider's workers x threads; labels per mode on both providers."""

import asyncio
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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
SCENE_SIDES = tuple(side for side, _ in SCENES.values())
SERVICE_BATCHES = (1, 8)  # batching off, and on at its CUDA default
# The model's own images/s through IO binding on CUDA, by (precision, scene side, batch size).
Ceilings = dict[tuple[str, int, int], float]
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
                        measured = load(server, payloads, c)
                        rows.append(
                            [label, scene, str(c), *cells(measured, baselines.get((scene, c)))]
                        )
                        if measured.errors:
                            causes = error_causes(server, payloads, c)
                            notes.append(f"{label}, {scene}, concurrency {c}: {causes}")
        except RuntimeError as error:  # never ready: the row says why, the run goes on
            notes.append(f"{label}: FAILED {error}")
    return rows, notes


def error_causes(server: Server, payloads: list[Payload], concurrency: int) -> str:
    """One burst of `concurrency` requests at once, as the load had: each non-200 answer's
    status with its problem title and detail (the cause the service gives), counted."""

    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            url = server.base + "/classify-regions"
            posts = [
                client.post(url, content=p.body, headers={"content-type": p.content_type})
                for p in (payloads * concurrency)[:concurrency]
            ]
            return await asyncio.gather(*posts)

    counted = Counter(_cause(r) for r in asyncio.run(burst()) if r.status_code != 200)
    found = ", ".join(f"{cause} x{n}" for cause, n in counted.most_common())
    return found or "none in a burst of the same concurrency (the load's errors did not recur)"


def _cause(response: httpx.Response) -> str:
    try:
        problem = response.json()
    except ValueError:
        return f"{response.status_code} {response.text[:80]!r}"
    return (
        f"{response.status_code} {problem.get('title', '')}: {str(problem.get('detail', ''))[:120]}"
    )


def of_the_model(row: list[str], ceilings: Ceilings) -> str:
    """A service row's req/s over the model's own images/s at the batch size it runs."""
    label, scene, throughput = row[0], row[1], float(row[3])
    precision = "fp16" if "fp16" in label else "fp32"
    batch = 1 if "batching off" in label else 8
    ceiling = ceilings.get((precision, SCENES[scene][0], batch))
    return f"{throughput / ceiling:.2f} (of {ceiling:.0f}/s, batch {batch})" if ceiling else "-"


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


def service_tables(ceilings: Ceilings, half_model: Path | None) -> str:
    """`ceilings`: the model's own throughput (bench/gpu_throughput.py); `half_model`: a model
    path with its float16 file beside it, served with REGIONSERVE_PRECISION=fp16."""
    scenes = scene_payloads()
    loop = loop_results(scenes)
    gpu = {"CUDA, batching on (8)": {}, "CUDA, batching off": {"REGIONSERVE_MAX_BATCH_SIZE": "1"}}
    if half_model is not None:
        fp16 = {"REGIONSERVE_PRECISION": "fp16", "REGIONSERVE_MODEL_PATH": str(half_model)}
        gpu["CUDA fp16, batching on (8)"] = fp16
    gpu_rows, notes = measure_servers(gpu, scenes, loop)
    cpu_rows, cpu_notes = measure_servers({"CPU provider (default plan)": CPU_ONLY}, scenes, {})
    cpu_base = {(r[1], int(r[2])): float(r[3]) for r in cpu_rows}
    for row in gpu_rows:
        row.append(f"{float(row[3]) / cpu_base.get((row[1], int(row[2])), float('nan')):.1f}x")
        row.append(of_the_model(row, ceilings))
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
            "concurrency; vs CPU: over the CPU provider's; of the model's own: over the "
            "model's own images/s through IO binding at the batch size the service runs, "
            "the same scene side and precision. Notes name the cause of every non-200 answer.",
            table([*HEADER, "vs CPU", "of the model's own"], gpu_rows),
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
