"""One real `python -m service` process on the shipped model for every V2 test, Triton's own
HTTP client pointed at it, and an in-process onnxruntime session of the same file."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from subprocess import DEVNULL

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.http as httpclient

from tests.service.conftest import SHIPPED_MODEL
from tests.service.service_process import free_port, start_service, wait_ready


@dataclass(frozen=True)
class Served:
    base: str  # http://host:port
    url: str  # host:port, as tritonclient takes it
    model: str  # the served model's name (its metadata's)
    version: str


@pytest.fixture(scope="session")
def session() -> ort.InferenceSession:
    return ort.InferenceSession(str(SHIPPED_MODEL), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="session")
def served(session: ort.InferenceSession) -> Iterator[Served]:
    port = free_port()
    process = start_service(SHIPPED_MODEL, port, stdout=DEVNULL, stderr=DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(process, f"{base}/v2/health/ready")
        meta = session.get_modelmeta().custom_metadata_map
        yield Served(base, f"127.0.0.1:{port}", meta["name"], meta["version"])
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="session")
def triton(served: Served) -> Iterator[httpclient.InferenceServerClient]:
    client = httpclient.InferenceServerClient(served.url)
    yield client
    client.close()


def model_feed(session: ort.InferenceSession, batch: int, seed: int) -> dict[str, np.ndarray]:
    """Valid inputs for the model at `batch` images: two rois per image, a superpixel grid,
    by the input names its metadata gives each role."""
    meta = session.get_modelmeta().custom_metadata_map
    names = json.loads(meta["inputs"])
    stride, height, width = int(meta["stride"]), 64, 96
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (batch, height, width, 3), dtype=np.uint8)
    corners = rng.uniform(0, 40, (batch * 2, 2))
    sizes = rng.uniform(8, 40, (batch * 2, 2))
    index = np.repeat(np.arange(batch), 2)[:, None]
    rois = np.concatenate([index, corners, corners + sizes], axis=1).astype(np.float32)
    cells = np.arange((height // stride) * (width // stride), dtype=np.int32)
    grid = (cells // 5).reshape(height // stride, width // stride)
    grids = np.stack([np.roll(grid, i) for i in range(batch)])
    return {names["image"]: image, names["rois"]: rois, names["superpixels"]: grids}
