"""Mutation fuzzing of the service: images and bodies mutated for N seconds; any 5xx reported.

`python -m bench.fuzz [--seconds 60] [--decoder-seconds 30] [--out DIR]`

Two stages, outside CI's time budget:
- the decoder in process: mutated images (bytes flipped, spliced, cut short; headers
  with huge sizes) through `decode_picture`; anything but a ServiceError is a failure
  (it would have been a 500);
- the HTTP API of a served process: mutated images with boxes or modes, JSON and
  multipart bodies with odd structures (deep nesting, huge numbers, wrong types,
  repeated or missing parts), and raw bytes that break the framing. Any 5xx other than a
  503 with Retry-After (overload) is a failure, and so is a connection that gets no answer.
Failing inputs are written to --out; the exit status is 1 if any was found.
"""

import argparse
import base64
import io
import json
import random
import socket
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from bench.load import regionserve
from bench.report import table
from service.errors import ServiceError
from service.regions.imaging import decode_picture

Case = tuple[str, bytes, dict[str, str]]  # (kind, body, headers)


def seed_images() -> list[bytes]:
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (48, 64, 3), np.uint8))
    exif = Image.Exif()
    exif[0x0112], exif[0x010F], exif[0x011A] = 6, "maker", (72, 1)
    grey16 = Image.fromarray(rng.integers(0, 65535, (40, 30), np.uint16).astype(np.uint16))
    saved: list[tuple[Image.Image, str, dict[str, object]]] = [
        (rgb, "JPEG", {"exif": exif}),
        (rgb, "JPEG", {"progressive": True}),
        (rgb, "PNG", {}),
        (grey16, "PNG", {}),
        (rgb.convert("P"), "GIF", {}),
        (rgb, "WEBP", {}),
        (rgb, "TIFF", {"compression": "tiff_deflate"}),
        (rgb.convert("RGBA"), "BMP", {}),
    ]
    out = []
    for image, fmt, options in saved:
        buffer = io.BytesIO()
        image.save(buffer, format=fmt, **options)
        out.append(buffer.getvalue())
    return out


def mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        if not out:
            break
        choice, at = rng.random(), rng.randrange(len(out))
        if choice < 0.5:
            out[at] = rng.randrange(256)
        elif choice < 0.7:  # a 32-bit field set to something huge (sizes, counts, offsets)
            out[at : at + 4] = rng.choice([b"\xff\xff\xff\x7f", b"\x00\x01\x00\x00", b"\x7f\xff"])
        elif choice < 0.85:
            del out[at : at + rng.randint(1, 64)]
        else:
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    return bytes(out[: rng.randint(len(out) // 2, len(out))] if rng.random() < 0.1 else out)


def fuzz_decoder(seconds: float, rng: random.Random, out: Path) -> Counter[str]:
    seeds, outcomes = seed_images(), Counter[str]()
    warnings.simplefilter("ignore")  # Pillow warns of the corrupt metadata it reads past
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        data = mutate(rng.choice(seeds), rng)
        try:
            decode_picture(data, 40_000_000, 1024, 256 * 2**20)
            outcomes["decoded"] += 1
        except ServiceError as error:
            outcomes[f"{error.status}"] += 1
        except Exception as error:  # a failure: it would have been a 500
            outcomes[f"FAIL {type(error).__name__}"] += 1
            (out / f"decoder-{sum(outcomes.values())}.bin").write_bytes(data)
    return outcomes


def odd_json(rng: random.Random, depth: int = 0) -> object:
    pick = rng.random()
    if depth > 3 or pick < 0.3:
        return rng.choice([0, -1, 10 ** rng.randint(1, 400), 1e308, "x" * rng.randint(0, 99), None])
    if pick < 0.6:
        return [odd_json(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    return {rng.choice(["image", "boxes", "top_k", "mode", "z"]): odd_json(rng, depth + 1)}


def json_case(image: bytes, rng: random.Random) -> Case:
    body: dict[str, object] = {"image": base64.b64encode(image).decode()}
    for field in ("boxes", "top_k", "mode"):
        if rng.random() < 0.5:
            body[field] = odd_json(rng)
    text = json.dumps(body)
    if rng.random() < 0.2:
        nested = rng.choice([10, 1000, 100_000])
        text = text[:-1] + ', "boxes": ' + "[" * nested + "]" * nested + "}"
    return "json", text.encode(), {"content-type": "application/json"}


def multipart_case(image: bytes, rng: random.Random) -> Case:
    fields: list[tuple[str, tuple[str | None, bytes]]] = [("image", ("x", image))]
    fields += [("image", ("y", image))] * (rng.random() < 0.1)
    if rng.random() < 0.5:
        fields.append(("boxes", (None, json.dumps(odd_json(rng)).encode())))
    if rng.random() < 0.5:
        fields.append(("mode", (None, rng.choice([b"proposals", b"superpixels", b"\xff"]))))
    request = httpx.Request("POST", "http://x", files=fields)
    body = request.read()
    headers = {"content-type": request.headers["content-type"]}
    return "multipart", mutate(body, rng) if rng.random() < 0.3 else body, headers


def http_cases(rng: random.Random) -> Callable[[], Case]:
    seeds = seed_images()

    def next_case() -> Case:
        image = mutate(rng.choice(seeds), rng) if rng.random() < 0.7 else rng.choice(seeds)
        return rng.choice([json_case, multipart_case])(image, rng)

    return next_case


RAW_HEAD = b"POST /classify-regions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"


def raw_framing(port: int, request: bytes) -> str:
    """A request sent on a raw socket, then the sending side closed: the status answered,
    or why there is none (a request left incomplete is closed unanswered, as nginx does)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        answer = sock.recv(64)
    if answer.startswith(b"HTTP/1.1 "):
        return answer.split()[1].decode()
    return "no answer, incomplete" if _incomplete(request) else "FAIL no answer"


def _incomplete(request: bytes) -> bool:
    head, ended, body = request.partition(b"\r\n\r\n")
    declared = [line for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:")]
    return not ended or (len(declared) == 1 and declared[0][15:].strip() != str(len(body)).encode())


def fuzz_http(seconds: float, rng: random.Random, out: Path) -> Counter[str]:
    server = regionserve({"REGIONSERVE_BODY_TIMEOUT_S": "5", "REGIONSERVE_HEADER_TIMEOUT_S": "5"})
    outcomes, next_case = Counter[str](), http_cases(rng)
    until = time.monotonic() + seconds
    try:
        with httpx.Client(base_url=server.base, timeout=60) as client:
            while time.monotonic() < until:
                if rng.random() < 0.1:
                    request = mutate(RAW_HEAD, rng)
                    outcome = raw_framing(server.port, request)
                    outcomes[f"raw {outcome}"] += 1
                    if outcome.startswith("FAIL"):
                        (out / f"raw-{sum(outcomes.values())}.bin").write_bytes(request)
                    continue
                kind, body, headers = next_case()
                response = client.post("/classify-regions", content=body, headers=headers)
                overloaded = response.status_code == 503 and "retry-after" in response.headers
                failed = response.status_code >= 500 and not overloaded
                outcomes[("FAIL " if failed else "") + f"{kind} {response.status_code}"] += 1
                if failed:
                    (out / f"http-{sum(outcomes.values())}.bin").write_bytes(body)
    finally:
        server.stop()
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__)
    parser.add_argument("--seconds", type=float, default=60, help="HTTP stage")
    parser.add_argument("--decoder-seconds", type=float, default=30)
    parser.add_argument("--out", type=Path, default=Path("fuzz-failures"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(exist_ok=True)
    rng = random.Random(args.seed)
    outcomes = fuzz_decoder(args.decoder_seconds, rng, args.out)
    outcomes.update(fuzz_http(args.seconds, rng, args.out))
    rows = [[name, str(count)] for name, count in sorted(outcomes.items())]
    print(table(["outcome", "cases"], rows))
    failures = sum(count for name, count in outcomes.items() if "FAIL" in name)
    print(f"{failures} failures (kept in {args.out})")
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
