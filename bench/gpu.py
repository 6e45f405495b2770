"""`python -m bench gpu`: the model and the service on onnxruntime's CUDA provider.

Everywhere: the model's own throughput at batch 1, 8 and 32 per provider, precision and input
path (bench/gpu_throughput.py; CPU rows only on a machine without CUDA). Where CUDA exists:
both RoI lowerings in each mode's feed (latency, node placement, outputs against the CPU
provider), then the service end to end, as a fraction of the model's own throughput
(bench/gpu_service.py). Every wait is bounded; the whole run takes minutes.
"""

import functools
import json
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from bench import gpu_service, gpu_throughput
from bench.gpu_service import Ceilings
from bench.report import table, write_section
from bench.timing import time_calls
from regionserve_contract.files import decomposed_variant, float16_variant
from service.inference.sessions import CPU, CUDA, with_options

MODEL = Path("models/region_classifier.onnx")
BATCHES = (1, 8, 32)
TOLERANCE = 1e-4
SIDE, STRIDE = 512, 4


def feed(mode: str, batch: int, side: int = SIDE) -> dict[str, np.ndarray]:
    """What the service feeds in each mode (with the placeholders of
    service/inference/predictor.py): boxes, 32 rois per image; proposals, 200; superpixels,
    ~256 ids per image (at 512 px) and one roi."""
    rng = np.random.default_rng(batch)
    image = rng.integers(0, 256, size=(batch, side, side, 3), dtype=np.uint8)
    cells = side // STRIDE
    grid = np.full((batch, cells, cells), -1, np.int32)
    per_image = {"boxes": 32, "proposals": 200, "superpixels": 0}[mode]
    if mode == "superpixels":
        grid = (np.arange(cells * cells, dtype=np.int32).reshape(cells, cells) // 64)[None]
        grid = np.repeat(grid, batch, axis=0)
        rois = np.array([[0, 0, 0, STRIDE - 1, STRIDE - 1]], np.float32)
    else:
        grid[0, 0, 0] = 0
        corners = np.sort(rng.uniform(0, side - 1, size=(batch * per_image, 2, 2)), axis=1)
        index = np.repeat(np.arange(batch), per_image)[:, None]
        rois = np.concatenate([index, corners[:, 0], corners[:, 1]], axis=1).astype(np.float32)
    return {"image": image, "rois": rois, "superpixels": grid}


@dataclass
class Placement:
    providers: Counter[str]  # nodes per provider
    off_cuda: Counter[str]  # op types of the nodes not on CUDA
    fallbacks: list[str]  # nodes not on CUDA that compute on tensor data, not on shapes
    copies: list[str]  # each Memcpy node: what it copies, from which node to which


def placement(path: Path) -> Placement:
    """Where a CUDA session runs each node, from its profile, and why: a node not on CUDA that
    computes only shapes is onnxruntime's choice by design (shape arithmetic stays on the host);
    one that computes on tensor data is a fallback. The optimized graph the session saves
    shows each Memcpy node it added."""
    folder = Path(tempfile.mkdtemp())
    options = ort.SessionOptions()
    options.enable_profiling = True
    options.profile_file_prefix = str(folder / "profile")
    options.optimized_model_filepath = str(folder / "optimized.onnx")
    session = ort.InferenceSession(str(path), options, providers=with_options([CUDA, CPU]))
    for mode in ("boxes", "superpixels"):
        session.run(None, feed(mode, 1))
    events = json.loads(Path(session.end_profiling()).read_text())
    graph = onnx.load(str(folder / "optimized.onnx"), load_external_data=False).graph
    shapes = shape_only_nodes(graph)
    off = [name for name, args in _nodes(events).items() if args["provider"] != CUDA]
    fallbacks = sorted(n for n in off if n not in shapes and not n.startswith("Memcpy"))
    return Placement(
        count_node_providers(events), count_ops_off(events, CUDA), fallbacks, memcpy_edges(graph)
    )


SHAPE_SOURCES = {"Shape", "Size"}


def shape_only_nodes(graph: onnx.GraphProto) -> set[str]:
    """Names of the nodes whose outputs depend on tensor shapes and constants only, not on any
    tensor's values (nodes are in topological order in an ONNX graph)."""
    constant = {i.name for i in graph.initializer}
    found: set[str] = set()
    for node in graph.node:
        inputs = [i for i in node.input if i]
        if node.op_type in SHAPE_SOURCES or (
            node.op_type != "Memcpy" and all(i in constant for i in inputs)
        ):
            found.add(node.name)
            constant.update(node.output)
    return found


def memcpy_edges(graph: onnx.GraphProto) -> list[str]:
    """`MemcpyToHost: tensor (from producer op) -> consumer ops`, one per copy node."""
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list[str]] = {}
    for node in graph.node:
        for i in node.input:
            consumers.setdefault(i, []).append(node.op_type)
    edges = []
    for node in graph.node:
        if node.op_type.startswith("Memcpy"):
            source = producer.get(node.input[0])
            origin = source.op_type if source else "graph input"
            to = ", ".join(sorted(set(consumers.get(node.output[0], [])))) or "graph output"
            edges.append(f"{node.op_type}: {node.input[0]} (from {origin}) -> {to}")
    return edges


def _nodes(events: list[dict]) -> dict[str, dict]:
    return {
        event["name"].removesuffix("_kernel_time"): event["args"]
        for event in events
        if event.get("cat") == "Node" and "provider" in event.get("args", {})
    }


def count_node_providers(events: list[dict]) -> Counter[str]:
    return Counter(args["provider"] for args in _nodes(events).values())


def count_ops_off(events: list[dict], provider: str) -> Counter[str]:
    """Op types of the nodes placed on another provider than `provider` (Memcpy included)."""
    nodes = _nodes(events).values()
    return Counter(args.get("op_name", "?") for args in nodes if args["provider"] != provider)


def repeats(session: ort.InferenceSession, inputs: dict[str, np.ndarray]) -> int:
    """As many runs as fit in about a second, from 3 to 30: the run must fit its lease."""
    start = time.perf_counter()
    session.run(None, inputs)
    return max(3, min(30, int(1.0 / (time.perf_counter() - start))))


def model_tables() -> str:
    rows, placed, copies = [], [], []
    for lowering, path in (("MaxRoiPool", MODEL), ("decomposed", decomposed_variant(MODEL))):
        gpu = ort.InferenceSession(str(path), providers=with_options([CUDA, CPU]))
        cpu = ort.InferenceSession(str(path), providers=[CPU])
        where = placement(path)
        ops = ", ".join(f"{op} x{n}" for op, n in sorted(where.off_cuda.items())) or "none"
        counts = where.providers
        placed.append(
            [
                lowering,
                str(counts.get(CUDA, 0)),
                str(counts.get(CPU, 0)),
                ops,
                ", ".join(where.fallbacks) or "none (0 fallback)",
            ]
        )
        copies.append(f"{lowering}: {len(where.copies)} Memcpy nodes")
        copies += [f"  - {edge}" for edge in where.copies]
        for mode in ("boxes", "proposals", "superpixels"):
            for batch in BATCHES:
                inputs = feed(mode, batch)
                diff = max(
                    float(np.max(np.abs(a - b), initial=0))
                    for a, b in zip(gpu.run(None, inputs), cpu.run(None, inputs), strict=True)
                )
                median, p90 = time_calls(
                    functools.partial(gpu.run, None, inputs), repeats(gpu, inputs)
                )
                verdict = f"{diff:.1e} {'ok' if diff <= TOLERANCE else 'OVER'}"
                rows.append([lowering, mode, str(batch), f"{median:.2f}", f"{p90:.2f}", verdict])
    return (
        f"One {SIDE}x{SIDE} image per batch item; boxes: 32 rois per image, proposals: 200, "
        "superpixels: 256 superpixels per image (and the predictor's one placeholder roi).\n\n"
        + table(["RoI lowering", "mode", "batch", "median ms", "p90 ms", "max |GPU - CPU|"], rows)
        + "\n\nNodes per provider in a CUDA session (profile of one run per mode); a node not "
        "on CUDA that computes only shapes (from Shape, Size and constants) is onnxruntime's "
        "choice by design, one that computes on tensor data is a fallback:\n\n"
        + table(
            [
                "RoI lowering",
                "CUDA nodes",
                "CPU nodes",
                "nodes not on CUDA, by op",
                "not on CUDA, on tensor data",
            ],
            placed,
        )
        + "\n\nMemcpy nodes in the session's optimized graph (what each copies, from, to):\n\n"
        + "\n".join(copies)
    )


def device() -> str:
    query = "--query-gpu=name,driver_version,memory.total"
    try:
        found = subprocess.run(
            ["nvidia-smi", query, "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "GPU: nvidia-smi not available"
    return f"GPU: {found.stdout.strip()}; onnxruntime {ort.__version__}"


def model_throughput(providers: list[str]) -> tuple[str, Ceilings]:
    """The throughput table (boxes mode, 512 px), and the service's ceilings on CUDA: the
    model's own images/s through IO binding per precision, scene side and batch size."""
    half = gpu_throughput.float16_model(MODEL)
    half_file = float16_variant(decomposed_variant(half)) if half else None
    found = gpu_throughput.contenders(MODEL, half_file, providers)
    medians = gpu_throughput.measure(found, {b: feed("boxes", b) for b in BATCHES})
    text = gpu_throughput.throughput_table(found, medians)
    if half is None:
        text += "\n\nNo float16 rows: no build/gpu/ float16 file and no onnxconverter-common here."
    ceilings: Ceilings = {}
    for contender in (c for c in found if c.provider == CUDA and c.bound):
        precision = "fp16" if "fp16" in contender.label else "fp32"
        for side in gpu_service.SCENE_SIDES:
            scene = {b: feed("boxes", b, side) for b in gpu_service.SERVICE_BATCHES}
            scene_medians = gpu_throughput.measure([contender], scene, rounds=5)
            for batch in scene:
                rate = gpu_throughput.images_per_second(scene_medians, contender.label, batch)
                ceilings[(precision, side, batch)] = rate
    return text, ceilings


def main() -> None:
    providers = [p for p in (CUDA, CPU) if p in ort.get_available_providers()]
    throughput, ceilings = model_throughput(providers)
    body = f"### The model's own throughput\n\n{throughput}\n\n"
    if CUDA not in providers:  # its own section: the CUDA one keeps the last device's tables
        body += (
            "CUDA not measured: this onnxruntime has no CUDAExecutionProvider (a CPU-only "
            "machine). `python -m bench gpu` measures it where onnxruntime-gpu and a GPU are "
            "present (section CUDA provider).\n"
        )
        write_section("gpu-cpu", "bench gpu without CUDA: the CPU provider's rows", body)
        return
    body = f"{device()}\n\n{body}### The model\n\n{model_tables()}\n\n"
    write_section("gpu", "CUDA provider", body + "(the service tables follow)\n")
    half = gpu_throughput.float16_model(MODEL)
    body += f"### The service\n\n{gpu_service.service_tables(ceilings, half)}\n"
    write_section("gpu", "CUDA provider", body)


if __name__ == "__main__":
    main()
