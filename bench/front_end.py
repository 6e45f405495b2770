"""The service's own CPU per request, around a model whose inference is nearly free
(bench/tiny_model.py, exported through the CLI): as committed before and now, in one run.

`python -m bench front-end [--before=COMMIT ...]`: each before is the service as committed
there (`git archive`, read-only; by default BEFORE, issue 29's start, and HEAD), now is this
working tree; all serve the same model from one process each (`python -m service`), all up
at once and measured in alternating rounds, so a busy machine slows them alike. CPU is the
server process's own (user + system, every thread: HTTP, decoding, answers, onnxruntime's)."""

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from PIL import Image

from bench import answer_building, image_decoders, request_parts, tiny_model
from bench.load import Payload, Server, free_port, run_load
from bench.report import table, write_section
from bench.scenes import request_images

BEFORE = "a8f9f40"  # the commit before issue 29 (decode, answers, threads)
ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 5
REQUESTS = {"boxes": 200, "superpixels": 30}  # per case and round, one at a time
BATCHING = 8  # the batch size of the batching rows (CUDA's default)


def before_tree(commit: str, folder: Path) -> Path:
    """service/ and regionserve_contract/ as committed at `commit`, under `folder`."""
    archive = subprocess.run(
        ["git", "archive", commit, "service", "regionserve_contract"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def serve(code: Path, model: Path, batch: int) -> Server:
    """`python -m service` with `code` first on sys.path (its service/ package), batching
    up to `batch` images."""
    run = "import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); "
    run += "runpy.run_module('service', run_name='__main__', alter_sys=True)"
    port = free_port()
    env = {
        "REGIONSERVE_MODEL_PATH": str(model),
        "REGIONSERVE_PROCESSES": "1",
        "REGIONSERVE_MAX_BATCH_SIZE": str(batch),
    }
    command = [sys.executable, "-c", run, str(code), "--port", str(port)]
    return Server(command, env, port, "/readyz")


def scene() -> tuple[dict[str, bytes], list[list[float]]]:
    """A 512x512 scene as PNG and JPEG (quality 90), and its 32 boxes."""
    png, boxes = request_images(1, 512, 32)[0]
    jpeg = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(jpeg, format="JPEG", quality=90)
    return {"PNG": png, "JPEG q90": jpeg.getvalue()}, boxes


def payloads() -> dict[str, tuple[Payload, int]]:
    """The scene in boxes (32) and superpixels modes, each with the batch size it is served
    at: 1 (the CPU's default), and boxes at 8 (CUDA's default: the batching path)."""
    images, boxes = scene()
    out = {}
    for name, data in images.items():
        with_boxes = Payload.multipart({"image": ("x", data)}, {"boxes": json.dumps(boxes)})
        out[f"{name}, boxes (32)"] = (with_boxes, 1)
        out[f"{name}, boxes (32), batching on (8)"] = (with_boxes, BATCHING)
        out[f"{name}, superpixels"] = (
            Payload.multipart({"image": ("x", data)}, {"mode": "superpixels"}),
            1,
        )
    return out


def cpu_ms(server: Server, payload: Payload, requests: int) -> float:
    """Server CPU per request over `requests` sequential requests."""
    start = server.cpu_seconds()
    result = run_load(server.base + "/classify-regions", [payload], 1, requests)
    assert result.errors == 0, result.error_statuses
    return (server.cpu_seconds() - start) * 1e3 / requests


def commits(argv: list[str]) -> list[str]:
    """The --before commits (BEFORE and HEAD unless given), as short hashes."""
    parser = argparse.ArgumentParser(prog="python -m bench front-end")
    parser.add_argument("--before", action="append", help="a commit to compare (repeatable)")
    given = parser.parse_known_args(argv)[0].before or [BEFORE, "HEAD"]
    return [
        subprocess.run(
            ["git", "rev-parse", "--short", c], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout.strip()
        for c in given
    ]


def main() -> None:
    befores = commits(sys.argv[1:])
    folder = Path(tempfile.mkdtemp(prefix="front_end_"))
    model = tiny_model.export(folder / "model")
    trees = {c: before_tree(c, folder / c) for c in befores}
    code = {c: tree for c, tree in trees.items()} | {"now": ROOT}
    servers = {
        (name, b): serve(tree, model, b) for name, tree in code.items() for b in (1, BATCHING)
    }
    cases = payloads()
    samples: dict[tuple[str, str], list[float]] = {}
    try:
        for (_, batch), server in servers.items():
            for payload, served_at in cases.values():
                if served_at == batch:
                    run_load(server.base + "/classify-regions", [payload], 1, 10)  # warm
        for _ in range(ROUNDS):
            for case, (payload, batch) in cases.items():
                requests = REQUESTS["boxes" if "boxes" in case else "superpixels"]
                for name in code:
                    per_request = cpu_ms(servers[(name, batch)], payload, requests)
                    samples.setdefault((case, name), []).append(per_request)
    finally:
        for server in servers.values():
            server.stop()
    rows = []
    for case in cases:
        ms = {name: statistics.median(samples[(case, name)]) for name in code}
        ratios = [f"{ms['now'] / ms[c]:.2f}x" for c in befores]
        rows.append([case, *(f"{ms[name]:.2f}" for name in code), *ratios])
    header = [
        "512x512 request",
        *(f"{c} ms CPU" for c in befores),
        "now ms CPU",
        *(f"now / {c}" for c in befores),
    ]
    note = (
        f"Server CPU per request (median of {ROUNDS} rounds of {REQUESTS['boxes']} boxes or "
        f"{REQUESTS['superpixels']} superpixels requests, sequential, one process per tree and "
        f"batch size, all up at once, alternating), model: bench/tiny_model.py (1x1 conv at "
        f"stride 8, RoiPooling + Dense, SuperpixelPooling + Dense) through the CLI; before: "
        f"{', '.join(f'`git archive {c}`' for c in befores)}; now: this tree."
    )
    stages = answer_building.measure(trees)
    parts = request_parts.measure(model, *scene())
    decoders = image_decoders.measure(scene()[0]["PNG"])
    body = f"{note}\n\n{table(header, rows)}\n\n{parts}\n\n{stages}\n\n{decoders}\n"
    write_section("front-end", "The service's own CPU per request (front end)", body)


if __name__ == "__main__":
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    main()
