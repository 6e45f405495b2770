"""Issue 30's attacks before and after the reliability work: each attack's answers, the
service's peak memory over its baseline (VmHWM, reset before the attack, minus VmRSS then)
and its readiness while the attack lasts (/readyz and /healthz probed every 0.25 s).

`python -m bench.attacks --before /tmp/before30` writes the "attacks" section of RESULTS.md:
each attack runs against a fresh `python -m service` of each tree (the before tree with this
interpreter, from its own folder: `git archive d1da66f^ | tar -x -C /tmp/before30`).
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import attack_payloads as p
from bench.report import table, write_section
from bench.timing import memory_mib

ROOT = Path(__file__).parents[1]
PROBE_EVERY_S = 0.25

# (name, attack, settings beyond the defaults)
ATTACKS: list[tuple[str, p.Attack, dict[str, str]]] = [
    ("V2 raw, 2 at once: a 2540x2540 image of zeros, gzip 20 KB", p.v2_large_image, {}),
    ("V2 raw, 200 images of 16x16 with 51,200 rois", p.v2_many_rois, {}),
    ("V2 raw, 320 images of 4x4, superpixel ids 1023, JSON out", p.v2_large_answer, {}),
    ("V2, 3 at once: 20 MB JSON header of `[[],...]` rois, gzip 19 KB", p.v2_header_of_lists, {}),
    ("region API, 3 at once: 20 MB `boxes` of 7 M empty lists", p.boxes_of_lists, {}),
    ("1000 clients fetch the Swagger bundle, never read, 25 s", p.stalled_readers(), {}),
    ("4 clients resend 5.2 M empty BYTES (gzip 20 KB) to -regions, 20 s", p.bytes_elements, {}),
    ("`Inference-Header-Content-Length: ¹`", p.superscript_length, {}),
    ("region API, 16 at once: RGBA PNG 5600x5600 (decode 249 MiB)", p.largest_images(), {}),
    (
        "the same, batches of 8 (decoding in parallel, as on CUDA)",
        p.largest_images(),
        {"REGIONSERVE_MAX_BATCH_SIZE": "8"},
    ),
]


@dataclass(frozen=True)
class Service:
    process: subprocess.Popen[bytes]
    base: str

    def reset_peak(self) -> float:
        """Linux: "5" sets VmHWM to the resident size now; that size is returned."""
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")
        return memory_mib("VmRSS", self.process.pid)

    def peak(self) -> float:
        return memory_mib("VmHWM", self.process.pid)


@contextmanager
def service(tree: Path, settings: dict[str, str]) -> Iterator[Service]:
    port = free_port()
    env = {
        **os.environ,
        "REGIONSERVE_MODEL_PATH": str(tree / "models/region_classifier.onnx"),
        "REGIONSERVE_PROCESSES": "1",
        **settings,
    }
    command = [sys.executable, "-m", "service", "--host", "127.0.0.1", "--port", str(port)]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=tree, env=env, stdout=log, stderr=log)
        running = Service(process, f"http://127.0.0.1:{port}")
        try:
            _wait_ready(running)
            yield running
        finally:
            process.terminate()
            process.wait(60)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _answers(http: httpx.Client, path: str) -> bool:
    try:
        return http.get(path).status_code == 200
    except httpx.TransportError:
        return False


def _wait_ready(running: Service, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise RuntimeError("the service stopped while starting")
        try:
            if httpx.get(running.base + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the service was not ready in time")


class Prober:
    """Probes /readyz and /healthz while an attack lasts; time each spent failing."""

    def __init__(self, base: str) -> None:
        self.base, self.stop = base, threading.Event()
        self.lost = {"/readyz": 0.0, "/healthz": 0.0}
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=1) as http:
            while not self.stop.is_set():
                start = time.monotonic()
                failed = [path for path in self.lost if not _answers(http, path)]
                self.stop.wait(max(PROBE_EVERY_S - (time.monotonic() - start), 0))
                for path in failed:  # failing until the next round says otherwise
                    self.lost[path] += time.monotonic() - start

    def readiness(self) -> str:
        ready, live = self.lost["/readyz"], self.lost["/healthz"]
        if ready == 0 and live == 0:
            return "kept"
        said = f"lost {ready:.1f} s" if ready else "kept"
        return said + (f"; /healthz lost {live:.1f} s" if live else "")


def measure(tree: Path, attack: p.Attack, settings: dict[str, str]) -> list[str]:
    """[answers, peak MiB over the baseline, readiness] of one attack on a fresh service."""
    with service(tree, settings) as running:
        baseline = running.reset_peak()
        prober = Prober(running.base)
        prober.thread.start()
        try:
            statuses = attack(running.base)
        finally:
            prober.stop.set()
            prober.thread.join()
        peak = running.peak() - baseline
    answers = ", ".join(f"{n} x {s}" if n > 1 else s for s, n in Counter(statuses).items())
    return [answers, f"+{peak:,.0f}", prober.readiness()]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.attacks", description=__doc__)
    parser.add_argument("--before", type=Path, required=True, help="the tree before the work")
    parser.add_argument("--only", type=int, nargs="*", help="attack numbers (from 1)")
    args = parser.parse_args()
    chosen = args.only or range(1, len(ATTACKS) + 1)
    rows = []
    for number in chosen:
        name, attack, settings = ATTACKS[number - 1]
        before = measure(args.before.resolve(), attack, settings)
        after = measure(ROOT, attack, settings)
        rows.append([name, *before, *after])
        print(" | ".join(rows[-1]), flush=True)
    head = [
        "attack",
        "before: answers",
        "peak MiB",
        "readiness",
        "after: answers",
        "peak MiB",
        "readiness",
    ]
    write_section(
        "attacks",
        "Issue 30's attacks, before and after",
        "Each attack against a fresh `python -m service` (1 process, default settings unless "
        "named); peak: VmHWM over VmRSS just before the attack. Before: the tree at "
        "d1da66f^.\n\n" + table(head, rows),
    )


if __name__ == "__main__":
    main()
