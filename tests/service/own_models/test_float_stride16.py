"""A user's stride-16 VGG-style model with a float image input ((pixels - mean) / std with
ImageNet's statistics, declared at export) and no superpixel head, served through the real app."""

import json
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.model_export.zoo.models import CLASSES
from tests.service.app_serving import serving
from tests.service.conftest import png_bytes
from tests.service.own_models.conftest import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ExportZoo,
    OwnModel,
    assert_scores_match,
)

STRIDE, PAD_VALUE = 16, 128  # the export's stride (read from the graph) and default pad value
BOXES = [[0, 0, 40, 40], [20, 10, 70, 45], [30, 5, 69, 49]]


@pytest.fixture(scope="module")
def vgg(export_zoo: ExportZoo) -> OwnModel:
    return export_zoo("vgg_nested_s16")


@pytest.fixture(scope="module")
def client(vgg: OwnModel) -> Iterator[TestClient]:
    with serving(vgg.onnx) as test_client:
        yield test_client


def keras_feed(pixels: np.ndarray, boxes: list[list[int]]) -> dict[str, np.ndarray]:
    """What the model expects: the image padded to the stride with the pad value, then
    (pixels - mean) / std as float32; rois [0, x1, y1, x2 - 1, y2 - 1] (inclusive ends)."""
    height, width = (-(-side // STRIDE) * STRIDE for side in pixels.shape[:2])
    padded = np.full((1, height, width, 3), PAD_VALUE, np.uint8)
    padded[0, : pixels.shape[0], : pixels.shape[1]] = pixels
    image = ((padded - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)).astype(np.float32)
    rois = np.array([[0, x1, y1, x2 - 1, y2 - 1] for x1, y1, x2, y2 in boxes], np.float32)
    return {"img": image, "candidate_boxes": rois}


def classify(client: TestClient, pixels: np.ndarray, **fields: str) -> dict:
    response = client.post("/classify-regions", files={"image": ("x.png", png_bytes(pixels))},
                           data=fields)  # fmt: skip
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_ready_only_once_its_recorded_samples_replay_on_the_provider(client: TestClient) -> None:
    ready = client.get("/readyz").json()
    assert ready["provider"] == "CPUExecutionProvider"
    assert ready["self_test"].startswith("passed (3 recorded samples, largest difference ")
    assert ready["self_test"].endswith(", tolerance 0.0001)")


def test_v1_model_describes_the_float_image_and_the_modes_of_its_one_head(
    client: TestClient,
) -> None:
    body = client.get("/v1/model").json()
    assert body["classes"] == list(CLASSES) and body["background_class"] == 0
    assert body["input"]["modes"] == ["boxes", "proposals"]
    assert body["input"]["extra_inputs"] == []
    described = body["model_inputs"]
    assert described["roles"] == {"image": "img", "rois": "candidate_boxes"}
    assert list(described["outputs"]) == ["rois"]
    assert described["image_dtype"] == "float32"
    assert described["image_preprocessing"] == {
        "scale": 1.0, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)
    }  # fmt: skip
    assert (described["stride"], described["rois_format"]) == (STRIDE, "indexed")


@pytest.mark.parametrize("size", [(64, 80), (50, 70)], ids=["stride-aligned", "padded"])
def test_boxes_get_the_keras_models_scores(
    client: TestClient, vgg: OwnModel, size: tuple[int, int]
) -> None:
    pixels = np.random.default_rng(3).integers(0, 256, (*size, 3), dtype=np.uint8)
    body = classify(client, pixels, boxes=json.dumps(BOXES), top_k=str(len(CLASSES)))
    (expected,) = vgg.keras_scores(keras_feed(pixels, BOXES)).values()
    assert body["mode"] == "boxes"
    assert_scores_match(body["regions"], expected)


def test_superpixels_mode_is_a_422_naming_the_models_modes(client: TestClient) -> None:
    pixels = np.zeros((32, 32, 3), np.uint8)
    response = client.post("/classify-regions", files={"image": ("x.png", png_bytes(pixels))},
                           data={"mode": "superpixels"})  # fmt: skip
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Unprocessable value",
        "status": 422,
        "detail": "mode must be one of this model's modes ['boxes', 'proposals'], "
        "got 'superpixels'",
    }
