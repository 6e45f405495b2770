"""A model with fixed input sizes starts at those sizes, and a start that fails says what is
wrong (the shapes fed, the shapes declared) rather than blaming the self-test."""

import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from regionserve_contract.files import samples_path
from service.app import create_app
from service.inference.feed import build_feed
from service.inference.model_info import ModelLoadError
from service.inference.predictor import Predictor
from service.inference.self_test import representative_batches
from service.settings import Settings
from tests.service.own_models.conftest import ExportZoo, OwnModel

CPU = ["CPUExecutionProvider"]


@pytest.fixture(scope="module")
def page_model(export_zoo: ExportZoo) -> OwnModel:
    return export_zoo("fixed_page")


def test_the_signatures_sizes_bound_the_image_and_the_warm_up_feeds_them(
    page_model: OwnModel,
) -> None:
    info = Predictor(page_model.onnx, CPU).info
    assert (info.image_size, info.bound, info.max_image_side) == ((96, 128), (96, 128), 128)
    assert info.input_shapes == {
        "page": (None, 96, 128, 3), "layout": (None, 12, 16, 2), "boxes": (None, 5)
    }  # fmt: skip
    fed = [
        {name: value.shape for name, value in build_feed(info, batch).items()}
        for batch in representative_batches(info)
    ]
    assert fed == [
        {"page": (1, 96, 128, 3), "boxes": (32, 5), "layout": (1, 12, 16, 2)},
        {"page": (2, 96, 128, 3), "boxes": (2, 5), "layout": (2, 12, 16, 2)},
    ]


def test_a_warm_up_the_model_refuses_names_the_shapes_fed_and_declared(
    page_model: OwnModel,
) -> None:
    """As the service before fixed sizes were read: the page fed at 128x128."""
    predictor = Predictor(page_model.onnx, CPU)
    info = predictor.info
    shapes = {**info.input_shapes, "page": (None, None, None, 3)}
    free = tuple(replace(extra, fixed_size=None) for extra in info.extra_inputs)
    predictor.info = replace(info, input_shapes=shapes, extra_inputs=free)
    failures: list[str] = []
    settings = Settings(model_path=page_model.onnx)
    with TestClient(create_app(settings, predictor, on_failure=failures.append)) as client:
        deadline = time.monotonic() + 30
        while not failures and time.monotonic() < deadline:
            time.sleep(0.05)
        ready = client.get("/readyz")
    reason = (
        "the model refuses inputs page [1, 128, 128, 3], boxes [32, 5], layout [1, 16, 16, 2] "
        "(it declares page [-1, 96, 128, 3], layout [-1, 12, 16, 2], boxes [-1, 5]): "
    )
    (failure,) = failures
    assert failure.startswith(f"warm-up of {page_model.onnx} on CPUExecutionProvider failed: ")
    assert failure.split(" failed: ", 1)[1].startswith(reason)
    assert "Got invalid dimensions for input: " in failure and "\n" not in failure
    assert ready.status_code == 503
    assert ready.json()["detail"].startswith(f"self-test not run: warm-up failed: {reason}")


def test_samples_at_another_size_are_refused_at_load_naming_the_input(
    page_model: OwnModel, tmp_path: Path
) -> None:
    model = tmp_path / "fixed_page.onnx"
    shutil.copy(page_model.onnx, model)
    with np.load(samples_path(page_model.onnx)) as archive:
        arrays = dict(archive)
    arrays["sample1/input/page"] = np.zeros((2, 64, 64, 3), np.uint8)
    np.savez(samples_path(model), **arrays)
    with pytest.raises(ModelLoadError) as refused:
        Predictor(model, CPU)
    assert str(refused.value) == (
        f"{samples_path(model)}: unusable samples: sample 1 input 'page' has shape "
        "[2, 64, 64, 3]; the model declares [-1, 96, 128, 3] (-1: any size): export the model "
        "again"
    )
