"""Users' models with other heads: rois as (B, N, 4) and no background class (a VGG-style
stride-32 model), and superpixel pooling alone (no RoI head), served through the real app."""

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.inference.feed import ModelInput
from service.inference.predictor import Predictor
from service.regions.proposals import selective_search
from service.regions.superpixels import feature_grid, slic_superpixels
from service.settings import Settings
from tests.model_export.zoo.models import CLASSES
from tests.service.app_serving import serving
from tests.service.conftest import png_bytes
from tests.service.own_models.conftest import ExportZoo, OwnModel, assert_scores_match

TOP_K = str(len(CLASSES))


def pixels_of(seed: int, height: int, width: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def post(client: TestClient, pixels: np.ndarray, **fields: str) -> dict:
    response = client.post("/classify-regions", files={"image": ("x.png", png_bytes(pixels))},
                           data=fields)  # fmt: skip
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_batched_rois_are_padded_per_image_and_their_scores_dropped(
    export_zoo: ExportZoo,
) -> None:
    model = export_zoo("vgg_flat_s32")
    predictor = Predictor(model.onnx, ["CPUExecutionProvider"])
    assert predictor.info.rois_format == "batched"
    image = pixels_of(1, 64, 96)
    first = np.array([[0, 0, 40, 40], [20, 10, 70, 45], [30, 5, 95, 63]], np.float32)
    second = np.array([[8, 8, 60, 50]], np.float32)
    got = predictor.run([ModelInput(image, first, None), ModelInput(image, second, None)])
    placeholder = [0, 0, 31, 31]  # the first image's top-left feature cell, at stride 32
    rois = np.array([first, [second[0], placeholder, placeholder]], np.float32)
    (expected,) = model.keras_scores({"image": np.stack([image, image]), "rois": rois}).values()
    np.testing.assert_allclose(got[0].rois, expected[0], rtol=0, atol=1e-4)
    np.testing.assert_allclose(got[1].rois, expected[1, :1], rtol=0, atol=1e-4)


def test_batched_rois_model_answers_boxes_with_keras_scores_and_keeps_every_proposal(
    export_zoo: ExportZoo,
) -> None:
    """Without a background class no proposal is dropped as background: with no score
    threshold and no suppression every selective-search box comes back."""
    model = export_zoo("vgg_flat_s32")
    image, boxes = pixels_of(2, 64, 96), [[0, 0, 40, 40], [20, 10, 70, 45]]
    with serving(model.onnx, score_threshold=0.0, nms_iou=1.0) as client:
        assert client.get("/v1/model").json()["background_class"] == -1
        body = post(client, image, boxes=json.dumps(boxes), top_k=TOP_K)
        rois = np.array([[[x1, y1, x2 - 1, y2 - 1] for x1, y1, x2, y2 in boxes]], np.float32)
        (expected,) = model.keras_scores({"image": image[None], "rois": rois}).values()
        assert_scores_match(body["regions"], expected[0])
        settings = Settings()
        found = selective_search(
            image, settings.proposal_side, settings.max_proposals, settings.min_proposal_side
        )
        proposals = post(client, image, mode="proposals")["regions"]
    assert len(found) > 1
    assert sorted(r["box"] for r in proposals) == sorted(found.tolist())


@pytest.fixture(scope="module")
def superpixel_only(export_zoo: ExportZoo) -> OwnModel:
    return export_zoo("superpixel_mean")


def test_a_model_without_a_roi_head_serves_superpixels_with_keras_scores(
    superpixel_only: OwnModel,
) -> None:
    image = pixels_of(3, 40, 56)
    with serving(superpixel_only.onnx) as client:
        described = client.get("/v1/model").json()
        assert described["input"]["modes"] == ["superpixels"]
        body = post(client, image, top_k=TOP_K)  # no boxes: the model's one mode
        refused = client.post(
            "/classify-regions",
            files={"image": ("x.png", png_bytes(image))},
            data={"boxes": "[[0, 0, 10, 10]]"},
        )
    info = Predictor(superpixel_only.onnx, ["CPUExecutionProvider"]).info
    assert info.superpixel is not None
    ids = slic_superpixels(image, info.superpixel.area, info.superpixel.compactness, 1024)
    grid = feature_grid(ids, info.stride)
    (expected,) = superpixel_only.keras_scores(
        {"image": image[None].astype(np.float32), "superpixels": grid[None]}
    ).values()
    assert body["mode"] == "superpixels"
    assert_scores_match(body["regions"], expected[0, np.unique(grid)])
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "mode must be one of this model's modes ['superpixels'], got 'boxes'"
    )
