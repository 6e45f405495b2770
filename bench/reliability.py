"""Reliability: overload, a soak, slow and idle clients, hostile images, deadlines.

`python -m bench.reliability [--soak-s 600]` writes the reliability section of RESULTS.md.
Each part runs its own `python -m service` with the settings it names.
"""

import argparse
import io
import json
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from bench.load import Server, regionserve
from bench.report import table, write_section
from bench.timing import memory_mib


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def boxes_request(side: int, boxes: int) -> tuple[dict, dict]:
    rng = np.random.default_rng(0)
    corners = rng.integers(0, side - 128, (boxes, 2))
    found = np.concatenate([corners, corners + rng.integers(16, 128, (boxes, 2))], axis=1)
    image = encoded(Image.fromarray(rng.integers(0, 256, (side, side, 3), np.uint8)), "PNG")
    return {"image": ("x.png", image)}, {"boxes": json.dumps(found.tolist())}


def hammer(server: Server, clients: int, seconds: float, request: tuple[dict, dict]) -> Counter:
    """`clients` threads posting `request` for `seconds`: statuses counted."""
    statuses: Counter[str] = Counter()
    until = time.monotonic() + seconds

    def client(_: int) -> None:
        with httpx.Client(base_url=server.base, timeout=120) as http:
            while time.monotonic() < until:
                try:
                    status = http.post("/classify-regions", files=request[0], data=request[1])
                    statuses[str(status.status_code)] += 1
                except httpx.TransportError as error:
                    statuses[type(error).__name__] += 1

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return statuses


def overload() -> str:
    server = regionserve({"REGIONSERVE_QUEUE_SIZE": "2"})
    try:
        ready = []
        stop = threading.Event()

        def probe() -> None:
            while not stop.wait(0.2):
                ready.append(httpx.get(server.base + "/readyz", timeout=10).status_code)

        prober = threading.Thread(target=probe)
        prober.start()
        statuses = hammer(server, 64, 20, boxes_request(512, 32))
        stop.set()
        prober.join()
    finally:
        server.stop()
    rows = [[s, str(n)] for s, n in sorted(statuses.items())]
    rows.append(["/readyz 200 during the run", f"{ready.count(200)} of {len(ready)}"])
    return "64 clients for 20 s against a queue of 2 (512x512, 32 boxes):\n\n" + table(
        ["status", "answers"], rows
    )


def soak(seconds: float, every_s: float = 30) -> str:
    server = regionserve({})
    rows = []
    try:
        worker = threading.Thread(
            target=lambda: rows.append(hammer(server, 16, seconds, boxes_request(512, 32)))
        )
        start = time.monotonic()
        worker.start()
        samples = []
        while worker.is_alive():
            samples.append((time.monotonic() - start, server.rss_mib()))
            worker.join(every_s)
    finally:
        server.stop()
    statuses = ", ".join(f"{n} x {s}" for s, n in sorted(rows[0].items()))
    memory = table(["s", "RSS MiB"], [[f"{t:.0f}", f"{m:.0f}"] for t, m in samples])
    return f"Soak: 16 clients for {seconds:g} s (512x512, 32 boxes): {statuses}.\n\n{memory}"


def slow_clients() -> str:
    """32 each of idle connections, head tricklers and body stallers (19 MB sent of a declared
    20 MB), with the default timeouts: how many the server still holds, and its memory."""
    server = regionserve({})
    try:
        base_rss = server.rss_mib()
        held: dict[str, list[socket.socket]] = {"idle": [], "head": [], "body": []}
        body = b"A" * (19 * 2**20)
        for _ in range(32):
            held["idle"].append(socket.create_connection(("127.0.0.1", server.port)))
            head = socket.create_connection(("127.0.0.1", server.port))
            head.sendall(b"POST /classify-regions HTTP/1.1\r\n")
            held["head"].append(head)
            stall = socket.create_connection(("127.0.0.1", server.port))
            stall.sendall(b"POST /classify-regions HTTP/1.1\r\nHost: x\r\n")
            stall.sendall(b"Content-Type: application/json\r\nContent-Length: 20971520\r\n\r\n")
            stall.sendall(body)
            held["body"].append(stall)
        rows = [["all sent", "", f"{server.rss_mib() - base_rss:+.0f}"]]
        sent = time.monotonic()
        for after in (3, 12, 33):  # past the idle (5 s), head (10 s) and body (30 s) timeouts
            time.sleep(max(sent + after - time.monotonic(), 0))
            open_now = {k: sum(not _closed(s) for s in v) for k, v in held.items()}
            counts = ", ".join(f"{k} {n}" for k, n in open_now.items())
            rows.append([f"{after} s", counts, f"{server.rss_mib() - base_rss:+.0f}"])
        for sockets in held.values():
            for s in sockets:
                s.close()
    finally:
        server.stop()
    return "32 idle, 32 trickling a head, 32 stalled after 19 MB of a 20 MB body:\n\n" + table(
        ["after", "still open", "RSS MiB vs before"], rows
    )


def _closed(sock: socket.socket) -> bool:
    """Whether the server has closed the connection (reading past any answer it sent)."""
    sock.setblocking(False)
    try:
        while sock.recv(65536):
            pass
        return True
    except BlockingIOError:
        return False
    except OSError:  # reset
        return True


def hostile_images() -> str:
    grey = np.zeros((6300, 6300), np.uint16)
    grey[::7, ::5] = 40000
    noise = Image.effect_noise((6000, 6000), 64).convert("RGB")
    zeros = encoded(Image.new("RGB", (6300, 6300)), "PNG")
    cases = [
        ("16-bit grey PNG 6300x6300", encoded(Image.fromarray(grey), "PNG"), "boxes"),
        ("8-bit RGB PNG of zeros 6300x6300", zeros, "boxes"),
        ("JPEG 6000x6000 (noise), superpixels", encoded(noise, "JPEG", quality=75), "superpixels"),
    ]
    server = regionserve({"REGIONSERVE_INFERENCE_WORKERS": "1"})
    rows = []
    try:
        pid = server.process.pid
        for name, data, mode in cases:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
            before = memory_mib("VmRSS", pid)
            fields = {"boxes": "[[0, 0, 100, 100]]"} if mode == "boxes" else {"mode": mode}
            start = time.monotonic()
            files = {"image": ("x", data)}
            response = httpx.post(
                f"{server.base}/classify-regions", files=files, data=fields, timeout=99
            )
            seconds, peak = time.monotonic() - start, memory_mib("VmHWM", pid) - before
            size = f"{len(data) / 1e3:,.0f} KB"
            rows.append([name, size, str(response.status_code), f"{seconds:.1f}", f"+{peak:.0f}"])
    finally:
        server.stop()
    return table(["image", "bytes", "status", "s", "peak MiB"], rows)


def deadline_run() -> str:
    server = regionserve({"REGIONSERVE_REQUEST_TIMEOUT_S": "1"})
    try:
        runs_before = _sample(server, "regionserve_batch_size_count")
        files, data = boxes_request(1024, 256)
        url = server.base + "/classify-regions"
        with ThreadPoolExecutor(32) as pool:
            post = lambda _: httpx.post(url, files=files, data=data, timeout=120)  # noqa: E731
            answers = list(pool.map(post, range(320)))
        runs = _sample(server, "regionserve_batch_size_count") - runs_before
    finally:
        server.stop()
    statuses = Counter(r.status_code for r in answers)
    found = ", ".join(f"{n} x {s}" for s, n in sorted(statuses.items()))
    return "320 requests, 32 at once, 1024x1024 with 256 boxes, REQUEST_TIMEOUT_S=1:\n\n" + table(
        ["answers", "inference runs"], [[found, f"{runs:.0f}"]]
    )


def _sample(server: Server, name: str) -> float:
    for line in httpx.get(server.base + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reliability", description=__doc__)
    parser.add_argument("--soak-s", type=float, default=600)
    args = parser.parse_args()
    parts = [overload(), soak(args.soak_s), slow_clients(), hostile_images(), deadline_run()]
    write_section("reliability", "Reliability", "\n\n".join(parts) + "\n")


if __name__ == "__main__":
    main()
