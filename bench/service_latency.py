"""RegionServe end to end vs an in-process onnxruntime loop over the same requests."""

import json
import time
from pathlib import Path

import numpy as np

from bench.load import LoadResult, Payload, regionserve, run_load
from bench.report import table, write_section
from bench.scenes import request_images

MODEL = Path("models/region_classifier.onnx")
CONCURRENCY = (1, 8, 32)


def in_process_loop(requests: list[tuple[bytes, list]], count: int) -> LoadResult:
    """decode, prepare, session.run and regions, one request after another, no HTTP."""
    from service.pipeline import prepare
    from service.predictor import Predictor
    from service.regions import box_regions
    from service.settings import Settings

    settings = Settings(model_path=MODEL)
    predictor = Predictor(MODEL, ["CPUExecutionProvider"])
    from service.imaging import decode_image

    def one(image: bytes, boxes: list) -> None:
        pixels = decode_image(image, settings.max_image_pixels)
        prepared = prepare(predictor.info, settings, pixels, "boxes", boxes)
        scores = predictor.run([prepared.item])[0]
        box_regions(predictor.info, prepared.boxes, scores.rois, 3)

    for image, boxes in requests[:3]:
        one(image, boxes)
    latencies = []
    start = time.perf_counter()
    for i in range(count):
        t = time.perf_counter()
        one(*requests[i % len(requests)])
        latencies.append((time.perf_counter() - t) * 1e3)
    wall = time.perf_counter() - start
    latencies.sort()
    return LoadResult(
        float(np.median(latencies)), latencies[int(0.99 * (count - 1))], count / wall, 0
    )


def main(count_per_client: int = 12) -> None:
    requests = request_images(count=16, side=512, boxes=32)
    payloads = [
        Payload.multipart({"image": ("x.png", image)}, {"boxes": json.dumps(b)})
        for image, b in requests
    ]
    baseline = in_process_loop(requests, 60)
    rows = [["in-process loop", "1", *_cells(baseline, baseline)]]
    for label, batch in (("RegionServe, batching off", "1"), ("RegionServe, batching on", "8")):
        server = regionserve(
            {"REGIONSERVE_MAX_BATCH_SIZE": batch, "REGIONSERVE_MODEL_PATH": str(MODEL)}
        )
        try:
            url = server.base + "/classify-regions"
            run_load(url, payloads, 2, 6)  # warm the connections
            for c in CONCURRENCY:
                result = run_load(url, payloads, c, max(24, c * count_per_client // 4))
                rows.append([label, str(c), *_cells(result, baseline)])
        finally:
            server.stop()
    body = table(
        [
            "contender",
            "concurrency",
            "p50 ms",
            "p99 ms",
            "req/s",
            "p50 - loop p50 (ms)",
            "throughput vs loop",
            "errors",
        ],
        rows,
    )
    note = (
        "One 512x512 PNG scene with 32 boxes per request (16 different scenes), boxes mode; "
        "the loop does the same decode, preparation, session.run and response regions without "
        "HTTP. The load generator (httpx, one keep-alive connection per client) shares the "
        "machine with the server."
    )
    write_section("service", "Service vs in-process loop (CPU)", f"{note}\n\n{body}\n")


def _cells(result: LoadResult, baseline: LoadResult) -> list[str]:
    return [
        f"{result.p50_ms:.1f}",
        f"{result.p99_ms:.1f}",
        f"{result.throughput:.1f}",
        f"{result.p50_ms - baseline.p50_ms:+.1f}",
        f"{result.throughput / baseline.throughput:.2f}",
        str(result.errors),
    ]


if __name__ == "__main__":
    main()
