"""The real app on the shipped model, ready before any test runs."""

import io
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from model_export.dataset.scenes import Scene
from model_export.scene_inputs import held_out_scenes
from service.app import create_app
from service.settings import Settings

SHIPPED_MODEL = Path(__file__).parents[2] / "models" / "region_classifier.onnx"


def wait_ready(client: TestClient, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, client.get("/readyz").json()
        time.sleep(0.05)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings(model_path=SHIPPED_MODEL, max_request_bytes=4 * 2**20, max_boxes=64)


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        wait_ready(test_client)
        yield test_client


def png_bytes(pixels: np.ndarray, **save: object) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", **save)
    return out.getvalue()


def fresh_scenes(count: int, seed: int, max_side: int = 512) -> list[Scene]:
    """Scenes of held-out digits the model never trained on."""
    return held_out_scenes(count, seed, max_side)
