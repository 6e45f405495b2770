"""The server's event loop: CPU of its main thread per request (HTTP, middleware, multipart, the
memory estimate, the hop to a batcher thread and back, the answer), as committed before (HEAD,
or `--before=COMMIT`) and in this working tree, in one run.

`python -m bench event-loop [--before=COMMIT]`: both trees serve the tiny model
(bench/tiny_model.py, through the CLI) from one process each (`python -m service`, batch size
1), up at once and measured in alternating rounds of sequential requests on one keep-alive
connection, so a busy machine slows both alike. The event loop's thread is the one the GIL and
every request share: what it spends per request caps a process's requests per second. Then the
stages it runs for each request that this tree changed, each timed in its tree's own process
(bench/event_loop_stages.py)."""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import tiny_model
from bench.front_end import ROOT, before_tree, commits, payloads, scene, serve
from bench.load import BlockingConnection, Server, _prepared_requests
from bench.report import table, write_section

ROUNDS = 7
REQUESTS = 300  # per case, tree and round
HEALTHZ = "GET /healthz"
HEALTHZ_REQUESTS = 1500  # the process's CPU is counted in 10 ms ticks
STAGE_ROUNDS = 3
CASES = {"JPEG q90, boxes (32)": "JPEG q90", "PNG, boxes (32)": "PNG"}  # -> scene() image


def main_thread_cpu_s(pid: int) -> float:
    """CPU time of a process's main thread, to the nanosecond (the scheduler's own count)."""
    return int(Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()[0]) / 1e9


def cpu_ms(server: Server, request: bytes, requests: int) -> tuple[float, float]:
    """Main-thread and whole-process CPU ms per request over `requests` sequential ones."""
    connection = BlockingConnection("127.0.0.1", server.port)
    try:
        for _ in range(10):
            connection.exchange(request)
        pid = server.process.pid
        main, whole = main_thread_cpu_s(pid), server.cpu_seconds()
        for _ in range(requests):
            status, _ = connection.exchange(request)
            assert status == 200, status
        main, whole = main_thread_cpu_s(pid) - main, server.cpu_seconds() - whole
    finally:
        connection.close()
    return main * 1e3 / requests, whole * 1e3 / requests


def server_rows(trees: dict[str, Path], model: Path) -> list[list[str]]:
    servers = {name: serve(tree, model, 1) for name, tree in trees.items()}
    cases = {case: payload for case, (payload, _) in payloads().items() if case in CASES}
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    try:
        requests: dict[str, dict[str, bytes]] = {}
        for name, server in servers.items():
            url = f"{server.base}/classify-regions"
            _, prepared = _prepared_requests(url, list(cases.values()))
            healthz = f"{HEALTHZ} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n"
            requests[name] = dict(zip(cases, prepared, strict=True))
            requests[name][HEALTHZ] = healthz.encode()
        for _ in range(ROUNDS):
            for case in [*cases, HEALTHZ]:
                count = HEALTHZ_REQUESTS if case == HEALTHZ else REQUESTS
                for name, server in servers.items():
                    sample = cpu_ms(server, requests[name][case], count)
                    samples.setdefault((case, name), []).append(sample)
    finally:
        for server in servers.values():
            server.stop()
    rows = []
    for case in [*cases, HEALTHZ]:
        main = {n: statistics.median(m for m, _ in samples[(case, n)]) for n in servers}
        whole = {n: statistics.median(w for _, w in samples[(case, n)]) for n in servers}
        rows.append(
            [
                case,
                f"{main['before']:.3f}",
                f"{main['now']:.3f}",
                f"{main['now'] / main['before']:.2f}x",
                f"{whole['before']:.2f}",
                f"{whole['now']:.2f}",
                f"{whole['now'] / whole['before']:.2f}x",
            ]
        )
    return rows


def stage_rows(trees: dict[str, Path], folder: Path) -> list[list[str]]:
    """Each stage's CPU per call in each tree, from bench/event_loop_stages.py."""
    images, bodies = scene()[0], dict[str, list[str]]()
    for case, (payload, _) in payloads().items():
        if case in CASES:
            body_file, image_file = folder / f"{len(bodies)}.body", folder / f"{len(bodies)}.img"
            body_file.write_bytes(payload.body)
            image_file.write_bytes(images[CASES[case]])
            bodies[case] = [str(body_file), payload.content_type, str(image_file)]
    listing = folder / "bodies.json"
    listing.write_text(json.dumps(bodies))
    script = Path(__file__).with_name("event_loop_stages.py")
    runs: dict[str, list[dict[str, dict[str, float]]]] = {name: [] for name in trees}
    for _ in range(STAGE_ROUNDS):  # alternating, as the servers are
        for name, tree in trees.items():
            command = [sys.executable, str(script), str(tree), str(listing)]
            done = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
            runs[name].append(json.loads(done.stdout))
    medians = {
        name: {
            case: {stage: statistics.median(r[case][stage] for r in rounds) for stage in stages}
            for case, stages in rounds[0].items()
        }
        for name, rounds in runs.items()
    }
    rows = []
    for case, stages in medians["now"].items():
        for stage, now in stages.items():
            before = medians["before"][case][stage]
            rows.append([case, stage, f"{before:.1f}", f"{now:.1f}", f"{now / before:.2f}x"])
    return rows


def measure(commit: str) -> str:
    folder = Path(tempfile.mkdtemp(prefix="event_loop_"))
    model = tiny_model.export(folder / "model")
    trees = {"before": before_tree(commit, folder / commit), "now": ROOT}
    server = table(
        [
            "512x512 request",
            f"{commit} main thread ms CPU",
            "now main thread ms CPU",
            f"now / {commit}",
            f"{commit} process ms CPU",
            "now process ms CPU",
            f"now / {commit}",
        ],
        server_rows(trees, model),
    )
    stages = table(
        ["512x512 request", "stage", f"{commit} us CPU", "now us CPU", f"now / {commit}"],
        stage_rows(trees, folder),
    )
    note = (
        f"Server CPU per request (median of {ROUNDS} rounds of {REQUESTS} sequential requests, "
        f"{HEALTHZ_REQUESTS} for {HEALTHZ}, one process per tree, batch size 1, alternating): the "
        "main thread (the event loop) and the whole process. Model: bench/tiny_model.py through "
        f"the CLI; {commit}: `git archive {commit}`; now: this tree."
    )
    stage_note = (
        "The event loop's stages this tree changed, CPU per call in each tree's own process "
        f"(median of {STAGE_ROUNDS} processes per tree, alternating, each the median of 7 rounds "
        "of 300 calls; warm caches: in the server, after a request's decoding and inference, "
        "each costs more)."
    )
    return f"{note}\n\n{server}\n\n{stage_note}\n\n{stages}\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench event-loop")
    parser.add_argument("--before", default="HEAD", help="the commit to compare (default HEAD)")
    commit = commits(["--before", parser.parse_known_args(sys.argv[1:])[0].before])[0]
    write_section("event-loop", "The server's event loop per request", measure(commit))


if __name__ == "__main__":
    main()
