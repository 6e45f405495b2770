"""The benchmarks' HTTP/1.1 load generator against a real (stdlib) server."""

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.load import BlockingConnection, Payload, _read_response, run_load, run_paired


def read(raw: bytes) -> tuple[int, bytes]:
    """Status of the first response in `raw`, and what is left after it."""

    async def scenario() -> tuple[int, bytes]:
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        return await _read_response(reader), await reader.read()

    return asyncio.run(scenario())


def test_reads_a_body_of_content_length_and_no_more() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 ..."
    assert read(raw) == (200, b"HTTP/1.1 ...")


def test_reads_a_chunked_body_to_its_end() -> None:
    raw = (
        b"HTTP/1.1 503 Service Unavailable\r\ntransfer-encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\n\r\nnext"
    )
    assert read(raw) == (503, b"next")


class EchoLength(BaseHTTPRequestHandler):
    """200 with the request body's length; 400 for an empty body. Keep-alive."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        size = len(self.rfile.read(int(self.headers["Content-Length"])))
        body = str(size).encode()
        self.send_response(200 if size else 400)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoLength)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/echo"
    server.shutdown()


def test_sends_every_request_and_counts_the_failures(server_url: str) -> None:
    payloads = [Payload(b"x" * 300_000, "application/octet-stream"), Payload(b"", "text/plain")]
    result = run_load(server_url, payloads, concurrency=3, count=10)
    assert result.errors == 5  # every other request is the empty one
    assert result.error_statuses == ((400, 5),)
    assert result.p50_ms > 0 and result.p99_ms >= result.p50_ms
    assert result.throughput > 0


def test_blocking_connection_reads_each_answer_whole_on_one_connection(server_url: str) -> None:
    host, port = server_url.split("//")[1].split("/")[0].split(":")
    connection = BlockingConnection(host, int(port))
    try:
        answers = [
            connection.exchange(
                f"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode()
                + b"x" * size
            )
            for size in (300_000, 0, 7)
        ]
    finally:
        connection.close()
    assert [status for status, _ in answers] == [200, 400, 200]
    assert connection.buffer == b""  # no byte of one answer is left for the next
    assert all(ms > 0 for _, ms in answers)


def test_pairs_alternate_local_work_and_requests(server_url: str) -> None:
    calls: list[int] = []
    payloads = [Payload(b"x" * 1000, "text/plain"), Payload(b"", "text/plain")]
    pairs = run_paired(server_url, payloads, 6, calls.append)
    assert calls == list(range(6))
    assert len(pairs) == 3  # the empty payload's 400s are left out
    assert all(local >= 0 and request > 0 for local, request in pairs)
