"""gzip of the answers: bytes and latency with and without it, through a real server.

One `python -m service` with the default REGIONSERVE_GZIP_MIN_BYTES; each request is sent
twice in a row on one connection, asking for gzip and not (each first in turn), so both meet
the same load.
A superpixels answer (large) is compressed; a boxes answer (small) is under the minimum
and must cost nothing more. Then zlib's levels on the superpixels answer, in process.
"""

import gzip
import os
import time
from pathlib import Path
from statistics import median

import httpx

from bench.load import regionserve
from bench.report import table, write_section
from service.http.layers import GZIP_LEVEL

EXAMPLE = Path("models/example.png")
ROUNDS = {"superpixels": 20, "boxes": 100}
FIELDS = {"superpixels": {"mode": "superpixels"}, "boxes": {"boxes": "[[0, 0, 60, 60]]"}}
ENCODINGS = ("identity", "gzip")
LEVELS = (1, 6, 9)


def exchange(client: httpx.Client, fields: dict[str, str], encoding: str) -> tuple[float, int]:
    """(ms, bytes on the wire) of one request."""
    image = {"image": ("example.png", EXAMPLE.read_bytes(), "image/png")}
    start = time.perf_counter()
    response = client.post(
        "/classify-regions", files=image, data=fields, headers={"Accept-Encoding": encoding}
    )
    ms = (time.perf_counter() - start) * 1e3
    response.raise_for_status()
    assert (response.headers.get("content-encoding") == "gzip") == (
        encoding == "gzip" and len(response.content) >= 4096
    )
    return ms, response.num_bytes_downloaded


def measure(base: str) -> list[list[str]]:
    rows = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for mode, rounds in ROUNDS.items():
            samples: dict[str, list[float]] = {e: [] for e in ENCODINGS}
            sizes: dict[str, int] = {}
            for encoding in ENCODINGS:  # warm-up
                exchange(client, FIELDS[mode], encoding)
            for i in range(rounds):
                for encoding in ENCODINGS[:: 1 if i % 2 else -1]:  # each goes first in turn
                    ms, size = exchange(client, FIELDS[mode], encoding)
                    samples[encoding].append(ms)
                    sizes[encoding] = size
            plain, zipped = median(samples["identity"]), median(samples["gzip"])
            rows.append(
                [
                    mode,
                    str(rounds),
                    f"{sizes['identity']:,}",
                    f"{sizes['gzip']:,}",
                    f"{sizes['gzip'] / sizes['identity']:.2f}",
                    f"{plain:.1f}",
                    f"{zipped:.1f}",
                    f"{zipped / plain:.2f}",
                ]
            )
    return rows


def levels(base: str) -> list[list[str]]:
    """zlib's levels on one superpixels answer: size and time, against level 9."""
    answer = httpx.post(
        f"{base}/classify-regions",
        files={"image": ("example.png", EXAMPLE.read_bytes(), "image/png")},
        data=FIELDS["superpixels"],
        headers={"Accept-Encoding": "identity"},
        timeout=60,
    ).content
    found = {}
    for level in LEVELS:
        times = []
        for _ in range(50):
            start = time.perf_counter()
            size = len(gzip.compress(answer, compresslevel=level))
            times.append((time.perf_counter() - start) * 1e3)
        found[level] = (size, median(times))
    size_9, ms_9 = found[9]
    return [
        [
            str(level) + (" (served)" if level == GZIP_LEVEL else ""),
            f"{size:,}",
            f"{size / size_9:.2f}",
            f"{ms:.2f}",
            f"{ms / ms_9:.2f}",
        ]
        for level, (size, ms) in found.items()
    ]


def main() -> None:
    server = regionserve({"REGIONSERVE_PROCESSES": "1"})
    try:
        base = f"http://127.0.0.1:{server.port}"
        load_before = os.getloadavg()[0]
        answers = measure(base)
        zlib_levels = levels(base)
        load_after = os.getloadavg()[0]
    finally:
        server.stop()
    body = "\n\n".join(
        [
            "`python -m bench.compression`: models/example.png to one `python -m service` "
            "(REGIONSERVE_GZIP_MIN_BYTES 4096, gzip level "
            f"{GZIP_LEVEL}) over loopback, each request sent with `Accept-Encoding: identity` "
            "and `gzip` back to back on one connection, each first in turn; medians. Bytes are "
            f"the body on the wire. Load average {load_before:.1f} before, "
            f"{load_after:.1f} after (other work shares the machine: compare the ratios).",
            table(
                [
                    "answer",
                    "pairs",
                    "bytes plain",
                    "bytes gzip",
                    "ratio",
                    "ms plain",
                    "ms gzip",
                    "ratio",
                ],
                answers,
            ),
            "zlib on the same superpixels answer, in process, 50 runs each; ratios against "
            "level 9 (Starlette's default):",
            table(["level", "bytes", "ratio", "ms", "ratio"], zlib_levels),
        ]
    )
    write_section("compression", "Answer compression (gzip)", body)


if __name__ == "__main__":
    main()
