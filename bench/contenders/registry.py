"""How to start each contender as a server process that answers /classify-regions."""

import base64
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.load import Payload, Server, free_port, regionserve

BENTO_PYTHON = Path(".venv-bench/bin/python")
BENTO_INSTALLED = Path(".venv-bench/.installed")  # written by `make bench` once it installs


def keras_direct() -> Server:
    port = free_port()
    return Server(
        [sys.executable, "-m", "bench.contenders.keras_app", str(port)], {}, port, "/ready"
    )


def bentoml_server() -> Server:
    port = free_port()
    app = "bench.contenders.bento_app:RegionClassifier"
    command = [
        str(BENTO_PYTHON),
        "-m",
        "bentoml",
        "serve",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    return Server(command, {}, port, "/readyz")


Request = tuple[bytes, list | None]  # PNG bytes and boxes (None: proposals)


def multipart(request: Request) -> Payload:
    image, boxes = request
    return Payload.multipart(
        {"image": ("x.png", image)}, {"boxes": json.dumps(boxes)} if boxes else {}
    )


def bento_json(request: Request) -> Payload:
    image, boxes = request
    query = {"image": base64.b64encode(image).decode("ascii"), "boxes": boxes}
    return Payload.json({"requests": [query]})


@dataclass(frozen=True)
class Contender:
    start: Callable[[], Server]
    encode: Callable[[Request], Payload]


CONTENDERS: dict[str, Contender] = {
    "RegionServe (CPU defaults)": Contender(lambda: regionserve({}), multipart),
    "RegionServe (batching on)": Contender(
        lambda: regionserve({"REGIONSERVE_MAX_BATCH_SIZE": "8"}), multipart
    ),
    "Keras served directly": Contender(keras_direct, multipart),
    "BentoML (adaptive batching)": Contender(bentoml_server, bento_json),
}


def available() -> list[str]:
    names = [n for n in CONTENDERS if n != "BentoML (adaptive batching)"]
    if BENTO_INSTALLED.exists():
        names.append("BentoML (adaptive batching)")
    return names
