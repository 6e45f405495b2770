"""The ONNX model on onnxruntime's CUDA provider: latency at batch 1, 8 and 32 for both RoI
lowerings, CPU-fallback nodes, outputs against the CPU provider, and the service's predictor.

Runs where onnxruntime has CUDAExecutionProvider; elsewhere it says so and measures nothing.
"""

import functools
import json
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import onnxruntime as ort

from bench.report import table, write_section
from bench.timing import time_calls
from bench.whole_model import DECOMPOSED_PATH, ONNX_PATH, export_decomposed

CUDA = "CUDAExecutionProvider"
BATCHES = (1, 8, 32)
TOLERANCE = 1e-4


def inputs(batch: int, side: int = 512, boxes: int = 32) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(batch)
    image = rng.integers(0, 256, size=(batch, side, side, 3), dtype=np.uint8)
    corners = np.sort(rng.uniform(0, side - 1, size=(batch * boxes, 2, 2)), axis=1)
    index = np.repeat(np.arange(batch), boxes)[:, None]
    rois = np.concatenate([index, corners[:, 0], corners[:, 1]], axis=1).astype(np.float32)
    grid = rng.integers(0, 200, size=(batch, side // 4, side // 4)).astype(np.int32)
    return {"image": image, "rois": rois, "superpixels": grid}


def providers_per_node(path: Path) -> Counter[str]:
    """How many graph nodes each provider ran, read from an onnxruntime profile."""
    options = ort.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(Path(tempfile.mkdtemp()) / "profile")
    session = ort.InferenceSession(str(path), options, providers=[CUDA, "CPUExecutionProvider"])
    session.run(None, inputs(1))
    events = json.loads(Path(session.end_profiling()).read_text())
    return count_node_providers(events)


def count_node_providers(events: list[dict]) -> Counter[str]:
    placed: dict[str, str] = {}
    for event in events:
        args = event.get("args", {})
        if event.get("cat") == "Node" and "provider" in args:
            placed[event["name"].removesuffix("_kernel_time")] = args["provider"]
    return Counter(placed.values())


def main(repeats: int = 30) -> None:
    if CUDA not in ort.get_available_providers():
        write_section(
            "gpu",
            "CUDA provider",
            "Not measured: this onnxruntime has no CUDAExecutionProvider (a CPU-only machine). "
            "`python -m bench gpu` measures it where onnxruntime-gpu and a GPU are present.\n",
        )
        return
    if not DECOMPOSED_PATH.exists():
        export_decomposed()
    rows, placement = [], []
    for lowering, path in (("MaxRoiPool", ONNX_PATH), ("decomposed", DECOMPOSED_PATH)):
        gpu = ort.InferenceSession(str(path), providers=[CUDA, "CPUExecutionProvider"])
        cpu = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        counts = providers_per_node(path)
        placement.append(
            [lowering, str(counts.get(CUDA, 0)), str(counts.get("CPUExecutionProvider", 0))]
        )
        for batch in BATCHES:
            feed = inputs(batch)
            diff = max(
                float(np.max(np.abs(a - b), initial=0))
                for a, b in zip(gpu.run(None, feed), cpu.run(None, feed), strict=True)
            )
            median, p90 = time_calls(functools.partial(gpu.run, None, feed), repeats)
            verdict = "ok" if diff <= TOLERANCE else "OVER"
            rows.append(
                [lowering, str(batch), f"{median:.2f}", f"{p90:.2f}", f"{diff:.1e} {verdict}"]
            )
    body = (
        table(["RoI lowering", "batch", "median ms", "p90 ms", "max |GPU - CPU|"], rows)
        + "\n\nNodes per provider (a CPU node inside a CUDA session is a fallback):\n\n"
        + table(["RoI lowering", "CUDA nodes", "CPU nodes"], placement)
        + "\n\n"
        + _predictor_row(repeats)
    )
    write_section("gpu", "CUDA provider", body + "\n")


def _predictor_row(repeats: int) -> str:
    from service.predictor import Predictor, PreparedImage

    predictor = Predictor(ONNX_PATH, [CUDA, "CPUExecutionProvider"])
    feed = inputs(1)
    item = PreparedImage(feed["image"][0], feed["rois"][:, 1:], None)
    median, p90 = time_calls(lambda: predictor.run([item]), repeats)
    return f"Service predictor on {predictor.provider}: median {median:.2f} ms, p90 {p90:.2f} ms."


if __name__ == "__main__":
    main()
