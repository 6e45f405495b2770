"""One load generator for every HTTP contender: a fixed number of requests at a fixed
concurrency over one keep-alive connection per worker; latencies and wall time.

The client is a minimal HTTP/1.1 one on asyncio streams (as wrk is in C): httpx took about
2 ms of CPU per 586 KB request on this machine, time that a latency comparison would
otherwise charge to the server."""

import asyncio
import multiprocessing
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.timing import memory_mib
from service.inference.cpu_plan import available_cores, process_count

ROOT = Path(__file__).parents[1]


@dataclass(frozen=True)
class LoadResult:
    p50_ms: float
    p99_ms: float
    throughput: float  # successful responses per second
    errors: int  # responses other than 200 (their latencies are left out)
    error_statuses: tuple[tuple[int, int], ...] = ()  # (status, count) of those, most first


@dataclass(frozen=True)
class Payload:
    """One request body, encoded once before the run, so that no contender's latency includes
    the load generator building a body (as with wrk or hey, which replay prepared bodies)."""

    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()  # any others (Inference-Header-Content-Length)

    @classmethod
    def multipart(cls, files: dict[str, tuple[str, bytes]], data: dict[str, str]) -> "Payload":
        return cls._encoded(httpx.Request("POST", "http://x", files=files, data=data))

    @classmethod
    def json(cls, document: dict) -> "Payload":
        return cls._encoded(httpx.Request("POST", "http://x", json=document))

    @classmethod
    def _encoded(cls, request: httpx.Request) -> "Payload":
        return cls(request.read(), request.headers["content-type"])


def _status_and_length(head: bytes) -> tuple[int, int | None]:
    """Status and Content-Length of a response head (None: the body is chunked)."""
    lines = head.decode("latin-1").lower().split("\r\n")
    length = next(
        (line.split(":", 1)[1] for line in lines if line.startswith("content-length:")), None
    )
    return int(lines[0].split(" ", 2)[1]), None if length is None else int(length)


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Status of one HTTP/1.1 response, its body read whole (Content-Length or chunked)."""
    status, length = _status_and_length(await reader.readuntil(b"\r\n\r\n"))
    if length is not None:
        await reader.readexactly(length)
        return status
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):  # chunked
        await reader.readexactly(size + 2)
    await reader.readuntil(b"\r\n")
    return status


class BlockingConnection:
    """One keep-alive connection on a blocking socket, for one request at a time: with
    nothing to multiplex, asyncio's wake-up path (~0.2 ms per request here) is client time
    that a latency comparison would charge to the server. Answers need a Content-Length."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def exchange(self, request: bytes) -> tuple[int, float]:
        """Send one prepared request; its status and latency in ms."""
        start = time.perf_counter()
        self.sock.sendall(request)
        while (head_end := self.buffer.find(b"\r\n\r\n") + 4) < 4:
            self._receive()
        status, length = _status_and_length(self.buffer[:head_end])
        if length is None:
            raise ValueError("a chunked answer: this client reads Content-Length bodies only")
        while len(self.buffer) < head_end + length:
            self._receive()
        self.buffer = self.buffer[head_end + length :]
        return status, (time.perf_counter() - start) * 1e3

    def close(self) -> None:
        self.sock.close()

    def _receive(self) -> None:
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buffer += data


def _prepared_requests(url: str, payloads: Sequence[Payload]) -> tuple[httpx.URL, list[bytes]]:
    target = httpx.URL(url)
    requests = [
        f"POST {target.raw_path.decode()} HTTP/1.1\r\nHost: {target.host}:{target.port}\r\n"
        f"Content-Type: {p.content_type}\r\nContent-Length: {len(p.body)}\r\n".encode()
        + "".join(f"{name}: {value}\r\n" for name, value in p.headers).encode()
        + b"\r\n"
        + p.body
        for p in payloads
    ]
    return target, requests


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, float]:
    """Send one prepared request; its status and latency in ms."""
    start = time.perf_counter()
    writer.write(request)
    status = await _read_response(reader)
    return status, (time.perf_counter() - start) * 1e3


@dataclass(frozen=True)
class Latencies:
    """What one load generator saw: the latencies of its 200s, its other answers, its time."""

    ms: list[float]
    errors: int
    wall_s: float
    error_statuses: Counter[int] = field(default_factory=Counter)

    def result(self) -> LoadResult:
        ms = sorted(self.ms) or [float("nan")]
        return LoadResult(
            statistics.median(ms),
            ms[min(len(ms) - 1, int(0.99 * len(ms)))],
            len(self.ms) / self.wall_s,
            self.errors,
            tuple(self.error_statuses.most_common()),
        )


async def _load(
    url: str, payloads: Sequence[Payload], concurrency: int, count: int, seconds: float
) -> Latencies:
    """Like wrk: prepared request bytes over one keep-alive connection per client, and as
    little parsing as HTTP allows, so that the client's own time stays out of the figures.
    Clients stop after `count` requests in all or once `seconds` have passed."""
    target, requests = _prepared_requests(url, payloads)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    next_index = 0
    start = time.perf_counter()

    async def worker() -> None:
        nonlocal next_index
        reader, writer = await asyncio.open_connection(target.host, target.port)
        try:
            while next_index < count and time.perf_counter() - start < seconds:
                request = requests[next_index % len(requests)]
                next_index += 1
                status, ms = await _exchange(reader, writer, request)
                if status == 200:
                    latencies.append(ms)
                else:
                    statuses[status] += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Latencies(latencies, statuses.total(), time.perf_counter() - start, statuses)


def run_load(
    url: str,
    payloads: Sequence[Payload],
    concurrency: int,
    count: int,
    seconds: float = float("inf"),
) -> LoadResult:
    return asyncio.run(_load(url, payloads, concurrency, count, seconds)).result()


def _load_in_process(
    url: str, payloads: Sequence[Payload], concurrency: int, seconds: float
) -> Latencies:
    return asyncio.run(_load(url, payloads, concurrency, 2**62, seconds))


def run_load_spread(
    url: str, payloads: Sequence[Payload], concurrency: int, seconds: float, processes: int
) -> LoadResult:
    """`concurrency` clients for `seconds`, spread over load generator processes, so that
    one Python process's CPU does not cap what a many-core server can answer."""
    processes = max(1, min(processes, concurrency))
    shares = [concurrency // processes + (i < concurrency % processes) for i in range(processes)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        parts = pool.starmap(_load_in_process, [(url, payloads, c, seconds) for c in shares])
    return Latencies(
        [ms for p in parts for ms in p.ms],
        sum(p.errors for p in parts),
        max(p.wall_s for p in parts),
        sum((p.error_statuses for p in parts), Counter()),
    ).result()


def run_paired(
    url: str, payloads: Sequence[Payload], count: int, local: Callable[[int], None]
) -> list[tuple[float, float]]:
    """(ms of local(i), ms of request i) for i < count, one after the other on one
    connection; failed requests are left out. Alternating one by one, both halves of a pair
    meet the same load from whatever else shares the machine."""
    target, requests = _prepared_requests(url, payloads)
    connection = BlockingConnection(target.host, target.port or 80)
    found = []
    try:
        for i in range(count):
            start = time.perf_counter()
            local(i)
            local_ms = (time.perf_counter() - start) * 1e3
            status, ms = connection.exchange(requests[i % len(requests)])
            if status == 200:
                found.append((local_ms, ms))
    finally:
        connection.close()
    return found


def _process_tree(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    return [pid, *(p for child in children for p in _process_tree(child))]


def own_cpu_seconds() -> float:
    """CPU time of this process so far (user + system): the load generator's, here."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A server process started from a command line, ready when `ready_path` answers 200."""

    def __init__(
        self,
        command: list[str],
        env: dict[str, str],
        port: int,
        ready_path: str,
        ready_timeout_s: float = 180,
        ready_body: Callable[[str], bool] = lambda text: True,
    ) -> None:
        """Ready when `ready_path` answers 200 with a body `ready_body` accepts."""
        self.port, self.ready_path, self.ready_body = port, ready_path, ready_body
        self.started = time.perf_counter()
        # The server's output, quoted if it fails to start; closed by stop().
        self.log = tempfile.TemporaryFile()  # noqa: SIM115
        self.process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stdout=self.log, stderr=self.log
        )
        try:
            self.ready_s = self._wait_ready(ready_timeout_s)
        except RuntimeError:
            self.stop()
            raise

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_ready(self, timeout_s: float) -> float:
        while time.perf_counter() - self.started < timeout_s:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.tail()}")
            try:
                answer = httpx.get(self.base + self.ready_path, timeout=1)
                if answer.status_code == 200 and self.ready_body(answer.text):
                    return time.perf_counter() - self.started
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server not ready within {timeout_s:g} s: {self.tail()}")

    def tail(self, lines: int = 5) -> str:
        """The last lines the server printed."""
        self.log.seek(0)
        return " | ".join(self.log.read().decode(errors="replace").splitlines()[-lines:])

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server and every process it started."""
        return sum(_cpu_seconds(pid) for pid in _process_tree(self.process.pid))

    def rss_mib(self) -> float:
        """Resident memory of the server and every process it started (workers included)."""
        return sum(memory_mib("VmRSS", pid) for pid in _process_tree(self.process.pid))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def regionserve(env: dict[str, str], ready_timeout_s: float = 180) -> Server:
    """`python -m service`, ready when every one of its processes passed its self-test."""
    port = free_port()
    command = [sys.executable, "-m", "service", "--port", str(port)]
    wanted = env.get("REGIONSERVE_PROCESSES", os.environ.get("REGIONSERVE_PROCESSES"))
    processes = int(wanted) if wanted else process_count(available_cores())
    if processes == 1:
        return Server(command, env, port, "/readyz", ready_timeout_s)
    ready = f"regionserve_processes_ready {float(processes)}"
    return Server(command, env, port, "/metrics", ready_timeout_s, lambda text: ready in text)
