"""Issue 30's attacks as requests: each sends its load to a service at `base` and returns the
statuses it got (or the transport error's name). Loopback only; every loop is bounded by a
count or a deadline."""

import gzip
import io
import json
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
from PIL import Image

MiB = 2**20
V2_INFER = "/v2/models/region_classifier/infer"
REGIONS_INFER = "/v2/models/region_classifier-regions/infer"
Attack = Callable[[str], list[str]]


def _post(base: str, path: str, body: bytes, headers: dict[str, str]) -> str:
    try:
        return str(httpx.post(base + path, content=body, headers=headers, timeout=120).status_code)
    except httpx.TransportError as error:
        return type(error).__name__


def _at_once(count: int, send: Callable[[], str]) -> list[str]:
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: send(), range(count)))


def _feed(images: np.ndarray, rois: np.ndarray, grids: np.ndarray, binary_output: bool) -> tuple:
    tensors = [("image", images, "UINT8"), ("rois", rois, "FP32"), ("superpixels", grids, "INT32")]
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": n,
                    "shape": list(a.shape),
                    "datatype": d,
                    "parameters": {"binary_data_size": a.nbytes},
                }
                for n, a, d in tensors
            ],
            "parameters": {"binary_data_output": binary_output},
        }
    ).encode()
    body = header + b"".join(a.tobytes() for _, a, _ in tensors)
    return body, {"Inference-Header-Content-Length": str(len(header))}


def v2_large_image(base: str) -> list[str]:
    """2 at once: one 2540x2540 image of zeros, gzip (20 KB)."""
    body, headers = _feed(
        np.zeros((1, 2540, 2540, 3), np.uint8),
        np.array([[0, 0, 0, 8, 8]], np.float32),
        np.zeros((1, 635, 635), np.int32),
        binary_output=True,
    )
    packed, headers = gzip.compress(body), headers | {"Content-Encoding": "gzip"}
    return _at_once(2, lambda: _post(base, V2_INFER, packed, headers))


def v2_many_rois(base: str) -> list[str]:
    """200 images of 16x16 with 256 rois each: 51,200 rois."""
    rois = np.array([[i, 0, 0, 8, 8] for i in range(200) for _ in range(256)], np.float32)
    body, headers = _feed(
        np.zeros((200, 16, 16, 3), np.uint8), rois, np.zeros((200, 4, 4), np.int32), True
    )
    return [_post(base, V2_INFER, body, headers)]


def v2_large_answer(base: str) -> list[str]:
    """320 images of 4x4 whose superpixel ids are all 1023, JSON out (69 MiB of scores)."""
    body, headers = _feed(
        np.zeros((320, 4, 4, 3), np.uint8),
        np.array([[0, 0, 0, 2, 2]], np.float32),
        np.full((320, 1, 1), 1023, np.int32),
        binary_output=False,
    )
    return [_post(base, V2_INFER, body, headers)]


def v2_header_of_lists(base: str) -> list[str]:
    """3 at once: a 20 MB JSON header of `[[],[],...]` as rois data, gzip (19 KB)."""
    lists = b"[" + b"[]," * ((20 * MiB - 4096) // 3) + b"[]]"
    header = b'{"inputs": [{"name": "rois", "shape": [1, 5], "datatype": "FP32", "data": '
    packed = gzip.compress(header + lists + b"}]}")
    return _at_once(3, lambda: _post(base, V2_INFER, packed, {"Content-Encoding": "gzip"}))


def boxes_of_lists(base: str) -> list[str]:
    """3 at once: a 20 MB multipart `boxes` field of 7 M empty lists."""
    boxes = "[" + "[]," * ((20 * MiB - 8192) // 3) + "[]]"
    request = httpx.Request(
        "POST",
        base + "/classify-regions",
        files={"image": ("x.png", _png(16, 16))},
        data={"boxes": boxes},
    )
    body, headers = request.read(), {"Content-Type": request.headers["content-type"]}
    return _at_once(3, lambda: _post(base, "/classify-regions", body, headers))


def bytes_elements(base: str, seconds: float = 20) -> list[str]:
    """4 clients resend for `seconds`: 20 KB of gzip that unpacks to 5.2 M empty BYTES
    elements, to the -regions model."""
    count = (20 * MiB - 1024) // 4
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "image",
                    "shape": [count],
                    "datatype": "BYTES",
                    "parameters": {"binary_data_size": 4 * count},
                }
            ]
        }
    ).encode()
    packed = gzip.compress(header + bytes(4 * count))
    headers = {"Inference-Header-Content-Length": str(len(header)), "Content-Encoding": "gzip"}
    until = time.monotonic() + seconds

    def client() -> list[str]:
        got = []
        while time.monotonic() < until:
            got.append(_post(base, REGIONS_INFER, packed, headers))
        return got

    with ThreadPoolExecutor(4) as pool:
        return [s for statuses in pool.map(lambda _: client(), range(4)) for s in statuses]


def superscript_length(base: str) -> list[str]:
    body, _ = _feed(
        np.zeros((1, 16, 16, 3), np.uint8),
        np.array([[0, 0, 0, 8, 8]], np.float32),
        np.zeros((1, 4, 4), np.int32),
        True,
    )
    headers = {"Inference-Header-Content-Length": b"\xb9"}  # '¹' in latin-1
    return [_post(base, V2_INFER, body, headers)]  # type: ignore[arg-type]


def stalled_readers(clients: int = 1000, seconds: float = 25) -> Attack:
    """`clients` connections ask for the 1.5 MB Swagger bundle into a 2 KB receive window
    and never read, held `seconds`."""

    def attack(base: str) -> list[str]:
        port = int(base.rsplit(":", 1)[1])
        held = []
        try:
            for _ in range(clients):
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
                sock.settimeout(5)
                try:
                    sock.connect(("127.0.0.1", port))
                    sock.sendall(
                        b"GET /docs/assets/swagger-ui-bundle.js HTTP/1.1\r\nHost: x\r\n\r\n"
                    )
                except OSError:
                    sock.close()
                    continue
                held.append(sock)
            time.sleep(seconds)
        finally:
            for sock in held:
                sock.close()
        return [f"{len(held)} held"]

    return attack


def largest_images(count: int = 16) -> Attack:
    """`count` at once: an RGBA PNG whose decoding is estimated just under the 256 MiB decode
    limit (5600x5600: alpha composited and reduced in copies), boxes mode."""
    image = _png(5600, 5600, "RGBA")

    def attack(base: str) -> list[str]:
        def send() -> str:
            try:
                return str(
                    httpx.post(
                        base + "/classify-regions",
                        files={"image": ("x.png", image)},
                        data={"boxes": "[[0, 0, 100, 100]]"},
                        timeout=300,
                    ).status_code
                )
            except httpx.TransportError as error:
                return type(error).__name__

        return _at_once(count, send)

    return attack


def _png(width: int, height: int, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    image = Image.new(mode, (width, height), (40, 80, 120, 200)[: len(mode)])
    image.save(out, format="PNG")
    return out.getvalue()
