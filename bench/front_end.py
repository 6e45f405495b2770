"""The service's own CPU per request, around a model whose inference is nearly free
(bench/tiny_model.py, exported through the CLI): before issue 29 and now, in one run.

Before is the service as committed at BEFORE (`git archive`, read-only), now is this working
tree; both serve the same model from one process each (`python -m service`), both up at once
and measured in alternating rounds, so a busy machine slows both alike. CPU is the server
process's own (user + system, every thread: HTTP, decoding, answers, onnxruntime's)."""

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

from bench import answer_building, tiny_model
from bench.load import Payload, Server, free_port, run_load
from bench.report import table, write_section
from bench.scenes import request_images

BEFORE = "a8f9f40"  # the commit before issue 29 (decode, answers, threads)
ROOT = Path(__file__).resolve().parents[1]
ROUNDS, REQUESTS = 5, 60  # per case and round, one at a time


def before_tree(folder: Path) -> Path:
    """service/ and regionserve_contract/ as committed at BEFORE, under `folder`."""
    archive = subprocess.run(
        ["git", "archive", BEFORE, "service", "regionserve_contract"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def serve(code: Path, model: Path) -> Server:
    """`python -m service` with `code` first on sys.path (its service/ package)."""
    run = "import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); "
    run += "runpy.run_module('service', run_name='__main__', alter_sys=True)"
    port = free_port()
    env = {"REGIONSERVE_MODEL_PATH": str(model), "REGIONSERVE_PROCESSES": "1"}
    command = [sys.executable, "-c", run, str(code), "--port", str(port)]
    return Server(command, env, port, "/readyz")


def payloads() -> dict[str, Payload]:
    """512x512 scenes: PNG and JPEG (quality 90), boxes (32) and superpixels modes."""
    png, boxes = request_images(1, 512, 32)[0]
    jpeg = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(jpeg, format="JPEG", quality=90)
    images = {"PNG": png, "JPEG q90": jpeg.getvalue()}
    out = {}
    for name, data in images.items():
        out[f"{name}, boxes (32)"] = Payload.multipart(
            {"image": ("x", data)}, {"boxes": json.dumps(boxes)}
        )
        out[f"{name}, superpixels"] = Payload.multipart(
            {"image": ("x", data)}, {"mode": "superpixels"}
        )
    return out


def cpu_ms(server: Server, payload: Payload) -> float:
    """Server CPU per request over REQUESTS sequential requests."""
    start = server.cpu_seconds()
    result = run_load(server.base + "/classify-regions", [payload], 1, REQUESTS)
    assert result.errors == 0, result.error_statuses
    return (server.cpu_seconds() - start) * 1e3 / REQUESTS


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="front_end_"))
    model = tiny_model.export(folder / "model")
    servers = {"before": serve(before_tree(folder / "before"), model), "now": serve(ROOT, model)}
    cases = payloads()
    samples: dict[tuple[str, str], list[float]] = {}
    try:
        for server in servers.values():
            for payload in cases.values():
                run_load(server.base + "/classify-regions", [payload], 1, 10)  # warm
        for _ in range(ROUNDS):
            for case, payload in cases.items():
                for name, server in servers.items():
                    samples.setdefault((case, name), []).append(cpu_ms(server, payload))
    finally:
        for server in servers.values():
            server.stop()
    rows = []
    for case in cases:
        before = statistics.median(samples[(case, "before")])
        now = statistics.median(samples[(case, "now")])
        rows.append([case, f"{before:.2f}", f"{now:.2f}", f"{now / before:.2f}x"])
    header = ["512x512 request", "before ms CPU", "now ms CPU", "now / before"]
    note = (
        f"Server CPU per request (median of {ROUNDS} rounds of {REQUESTS} sequential requests, "
        f"one process each, both up at once), model: bench/tiny_model.py (1x1 conv at "
        f"stride 8, RoiPooling + Dense, SuperpixelPooling + Dense) through the CLI; before: "
        f"`git archive {BEFORE}`; now: this tree."
    )
    stages = answer_building.measure(folder / "before")
    body = f"{note}\n\n{table(header, rows)}\n\n{stages}\n"
    write_section("front-end", "The service's own CPU per request (front end)", body)


if __name__ == "__main__":
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    main()
