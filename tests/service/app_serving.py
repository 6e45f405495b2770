"""The real app (create_app + TestClient) on any model file, once ready."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.service.conftest import wait_ready


@contextmanager
def serving(onnx_path: Path, **settings: Any) -> Iterator[TestClient]:
    """The real app on `onnx_path`, once ready (warmed up and self-tested)."""
    with TestClient(create_app(Settings(model_path=onnx_path, **settings))) as client:
        wait_ready(client)
        yield client
