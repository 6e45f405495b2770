"""onnxruntime's threads on the CPU: spinning on or off, 1 or 2 intra-op threads per
session, with the shipped model, batching off and on: server CPU per request and latency.
The baseline is the service's default before issue 29 (spinning on, the CPU plan's threads)."""

import io
import json
import statistics

from PIL import Image

from bench.load import Payload, regionserve, run_load
from bench.report import table, write_section
from bench.scenes import request_images

MODEL = "models/region_classifier.onnx"
ROUNDS, REQUESTS = 3, 48
CONCURRENCY = (1, 4)
CONTENDERS = {
    "spinning on, plan's threads (before)": {"REGIONSERVE_ORT_SPINNING": "1"},
    "spinning off, plan's threads": {"REGIONSERVE_ORT_SPINNING": "0"},
    "spinning on, 1 thread": {"REGIONSERVE_ORT_SPINNING": "1", "REGIONSERVE_INTRA_OP_THREADS": "1"},
    "spinning off, 1 thread": {
        "REGIONSERVE_ORT_SPINNING": "0",
        "REGIONSERVE_INTRA_OP_THREADS": "1",
    },
    "spinning off, batching on (8)": {
        "REGIONSERVE_ORT_SPINNING": "0",
        "REGIONSERVE_MAX_BATCH_SIZE": "8",
    },
}


def payload() -> Payload:
    png, boxes = request_images(1, 512, 32)[0]
    jpeg = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(jpeg, format="JPEG", quality=90)
    return Payload.multipart({"image": ("x", jpeg.getvalue())}, {"boxes": json.dumps(boxes)})


def main() -> None:
    request = payload()
    rows = []
    base: dict[int, tuple[float, float]] = {}
    for name, env in CONTENDERS.items():
        server = regionserve({"REGIONSERVE_MODEL_PATH": MODEL, "REGIONSERVE_PROCESSES": "1", **env})
        try:
            url = server.base + "/classify-regions"
            run_load(url, [request], 1, 10)
            for concurrency in CONCURRENCY:
                cpu, p50 = [], []
                for _ in range(ROUNDS):
                    start = server.cpu_seconds()
                    result = run_load(url, [request], concurrency, REQUESTS)
                    cpu.append((server.cpu_seconds() - start) * 1e3 / REQUESTS)
                    p50.append(result.p50_ms)
                c, p = statistics.median(cpu), statistics.median(p50)
                b = base.setdefault(concurrency, (c, p))
                rows.append(
                    [
                        name,
                        str(concurrency),
                        f"{c:.1f}",
                        f"{c / b[0]:.2f}x",
                        f"{p:.1f}",
                        f"{p / b[1]:.2f}x",
                    ]
                )
        finally:
            server.stop()
    header = ["onnxruntime", "concurrency", "CPU ms/request", "vs before", "p50 ms", "vs before"]
    note = (
        f"Shipped model, 512x512 JPEG with 32 boxes, one server process, median of {ROUNDS} "
        f"rounds of {REQUESTS} requests."
    )
    write_section(
        "cpu-threads", "onnxruntime threads on the CPU", f"{note}\n\n{table(header, rows)}\n"
    )


if __name__ == "__main__":
    main()
