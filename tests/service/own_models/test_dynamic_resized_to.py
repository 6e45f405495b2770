"""No silent shrink on a model of any size (the shipped one): an image beyond its max_image_side
is answered with `image.resized_to`, its boxes in its own pixels; /v1/model gives the rule."""

import numpy as np
from fastapi.testclient import TestClient

from tests.service.conftest import png_bytes

RULE = (
    "an image wider than 1024 px or taller than 1024 px shrinks to fit inside 1024x1024 (width x "
    "height), aspect ratio kept (bilinear), and a smaller one never grows; the model sees it at "
    "the top left, padded at the bottom and right with 128 to a multiple of 4 px on each side; "
    "boxes, proposals, superpixels and image-sized extra inputs map through the same scale, "
    "regions are answered in the image's own pixels, and image.resized_to gives the size the "
    "model saw when the image was shrunk"
)


def test_v1_model_gives_the_rule_of_a_model_of_any_size(client: TestClient) -> None:
    described = client.get("/v1/model").json()
    padding = described["model_inputs"]["pad_value"], described["model_inputs"]["stride"]
    assert padding == (128, 4)
    assert described["input"]["image"] == {"fixed_size": None, "max_side": 1024, "resize": RULE}
    assert described["input"]["working_max_side"] == 1024


def test_an_image_beyond_max_image_side_says_it_was_shrunk(client: TestClient) -> None:
    pixels = np.full((40, 1100, 3), 255, np.uint8)
    boxes = [[1000, 0, 1100, 40], [3, 5, 90, 33]]
    response = client.post(
        "/classify-regions",
        files={"image": ("wide.png", png_bytes(pixels))},
        data={"boxes": str(boxes)},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    resized = {"width": 1024, "height": 37}  # 40 * 1024 / 1100 = 37.2
    assert body["image"] == {"width": 1100, "height": 40, "resized_to": resized}
    assert [region["box"] for region in body["regions"]] == boxes


def test_an_image_within_max_image_side_is_not_resized(client: TestClient) -> None:
    pixels = np.full((40, 1024, 3), 255, np.uint8)
    response = client.post(
        "/classify-regions",
        files={"image": ("x.png", png_bytes(pixels))},
        data={"boxes": "[[0, 0, 10, 10]]"},
    )
    assert response.json()["image"] == {"width": 1024, "height": 40}
