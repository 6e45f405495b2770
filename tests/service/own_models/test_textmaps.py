"""A user's two-input model (TextMaps: a screenshot and a text map) served through the real app:
the text map travels as a `.npy` part named after the input, or base64 `.npy` in JSON, checked
against the model's signature."""

import base64
import io
import json
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.inference.feed import ModelInput
from service.inference.predictor import Predictor
from service.regions.extra_inputs import fit_to_image
from service.regions.picture import Picture
from tests.model_export.zoo.models import CLASSES
from tests.service.app_serving import serving
from tests.service.conftest import png_bytes
from tests.service.own_models.conftest import (
    ExportZoo,
    OwnModel,
    assert_scores_match,
    npy,
)

HEIGHT, WIDTH, TEXT_CHANNELS = 48, 64, 4  # multiples of the stride, 8
BOXES = [[0, 0, 30, 30], [10, 20, 60, 47], [33, 2, 64, 40]]
TOP_K = str(len(CLASSES))


@pytest.fixture(scope="module")
def textmaps(export_zoo: ExportZoo) -> OwnModel:
    return export_zoo("textmaps")


@pytest.fixture(scope="module")
def client(textmaps: OwnModel) -> Iterator[TestClient]:
    with serving(textmaps.onnx) as test_client:
        yield test_client


def screenshot(seed: int, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def text_map(seed: int, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((1, height, width, TEXT_CHANNELS)).astype(np.float32)


def inclusive_rois(boxes: list[list[int]], image: int = 0) -> np.ndarray:
    return np.array([[image, x1, y1, x2 - 1, y2 - 1] for x1, y1, x2, y2 in boxes], np.float32)


def post(client: TestClient, pixels: np.ndarray, text: bytes | None, **fields: str) -> dict:
    files = {"image": ("x.png", png_bytes(pixels))}
    if text is not None:
        files["text_map"] = ("text_map.npy", text)
    response = client.post("/classify-regions", files=files, data=fields)
    return {"status": response.status_code, "body": response.json()}


def test_v1_model_lists_the_text_map_with_its_signature(client: TestClient) -> None:
    body = client.get("/v1/model").json()
    assert body["input"]["extra_inputs"] == [
        {
            "name": "text_map",
            "dtype": "float32",
            "shape": [1, -1, -1, TEXT_CHANNELS],
            "follows_image": {"axes": [1, 2], "divisor": 1},
        }
    ]
    assert body["input"]["modes"] == ["boxes", "proposals"]
    assert body["model_inputs"]["roles"] == {"image": "screenshot", "rois": "boxes"}
    assert client.get("/readyz").json()["self_test"].startswith("passed (3 recorded samples")


def test_text_map_as_npy_part_and_as_base64_json_give_the_keras_models_scores(
    client: TestClient, textmaps: OwnModel
) -> None:
    pixels, text = screenshot(1), text_map(2)
    multipart = post(client, pixels, npy(text), boxes=json.dumps(BOXES), top_k=TOP_K)
    assert multipart["status"] == 200, multipart["body"]
    (expected,) = textmaps.keras_scores(
        {"screenshot": pixels[None], "text_map": text, "boxes": inclusive_rois(BOXES)}
    ).values()
    assert_scores_match(multipart["body"]["regions"], expected)
    payload = {
        "image": base64.b64encode(png_bytes(pixels)).decode(),
        "boxes": BOXES,
        "top_k": len(CLASSES),
        "text_map": base64.b64encode(npy(text)).decode(),
    }
    as_json = client.post("/classify-regions", json=payload).json()
    assert as_json["regions"] == multipart["body"]["regions"]


def test_another_text_map_changes_the_scores(client: TestClient, textmaps: OwnModel) -> None:
    """The text map reaches the model: the scores follow it, as Keras's do."""
    pixels = screenshot(1)
    body = post(client, pixels, npy(text_map(3)), boxes=json.dumps(BOXES), top_k=TOP_K)["body"]
    (expected,) = textmaps.keras_scores(
        {"screenshot": pixels[None], "text_map": text_map(3), "boxes": inclusive_rois(BOXES)}
    ).values()
    (other,) = textmaps.keras_scores(
        {"screenshot": pixels[None], "text_map": text_map(2), "boxes": inclusive_rois(BOXES)}
    ).values()
    assert np.abs(expected - other).max() > 1e-3
    assert_scores_match(body["regions"], expected)


def _object_npy() -> bytes:
    """A pickled object array, which np.load refuses without allow_pickle."""
    out = io.BytesIO()
    np.save(out, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return out.getvalue()


def _short_npy() -> bytes:
    """A header promising the full shape, with half the data."""
    whole = npy(text_map(2))
    return whole[: len(whole) - HEIGHT * WIDTH * TEXT_CHANNELS * 2]


NAMED = "input 'text_map'"
REFUSED = [
    pytest.param(
        npy(text_map(2, HEIGHT // 2, WIDTH // 2)),
        422,
        f"{NAMED} has axes 1 and 2 of 24x32; the 48x64 image (height x width) takes 48x64 "
        "(ceil(side / 1))",
        id="half-size",
    ),
    pytest.param(
        npy(np.zeros((1, HEIGHT, WIDTH, 3), np.float32)),
        422,
        f"{NAMED} has shape [1, 48, 64, 3]; the model takes [1, -1, -1, 4] (-1: any size, "
        "none empty)",
        id="channels",
    ),
    pytest.param(
        npy(np.zeros((HEIGHT, WIDTH, 4), np.float32)),
        422,
        f"{NAMED} has shape [48, 64, 4]; the model takes [1, -1, -1, 4] (-1: any size, none empty)",
        id="rank",
    ),
    pytest.param(
        npy(text_map(2).astype(np.float64)),
        422,
        f"{NAMED} has dtype <f8; the model takes float32",
        id="float64",
    ),
    pytest.param(_object_npy(), 422, f"{NAMED} has dtype |O; the model takes float32", id="pickle"),
    pytest.param(
        b"not a numpy file at all",
        400,
        f"{NAMED} is not a .npy file: the magic string is not correct; expected "
        "b'\\x93NUMPY', got b'not a '",
        id="not-npy",
    ),
    pytest.param(
        _short_npy(),
        400,
        f"{NAMED}: the .npy file holds 24576 bytes of data; its header's shape "
        "[1, 48, 64, 4] of float32 takes 49152",
        id="short-data",
    ),
    pytest.param(
        None,
        400,
        "the model needs input 'text_map': send it as a .npy part named 'text_map' "
        "(multipart) or as base64 .npy under 'text_map' (JSON)",
        id="missing",
    ),
]


@pytest.mark.parametrize(("text", "status", "detail"), REFUSED)
def test_a_text_map_that_does_not_fit_is_a_4xx_naming_the_input(
    client: TestClient, text: bytes | None, status: int, detail: str
) -> None:
    answer = post(client, screenshot(1), text, boxes=json.dumps(BOXES))
    assert answer == {
        "status": status,
        "body": {
            "type": "about:blank",
            "title": "Unprocessable value" if status == 422 else "Bad request",
            "status": status,
            "detail": detail,
        },
    }


def test_base64_that_is_not_base64_is_a_400_naming_the_input(client: TestClient) -> None:
    payload = {"image": base64.b64encode(png_bytes(screenshot(1))).decode(), "text_map": "@@"}
    response = client.post("/classify-regions", json=payload)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("input 'text_map' is not valid base64: ")


def test_a_batch_pads_each_text_map_like_its_image(textmaps: OwnModel) -> None:
    """Two images of different sizes in one run: each text map sits in the top-left corner
    of the batch's (padded) map, zeros around it, as the pixels sit in the padded image."""
    predictor = Predictor(textmaps.onnx, ["CPUExecutionProvider"])
    sizes = [(HEIGHT, WIDTH), (32, 40)]
    images = [screenshot(5 + i, *size) for i, size in enumerate(sizes)]
    texts = [text_map(7 + i, *size) for i, size in enumerate(sizes)]
    boxes = [BOXES[:2], [[4, 4, 30, 30]]]
    rois = [np.array(b, np.float32) - [0, 0, 1, 1] for b in boxes]
    items = [
        ModelInput(image, roi, None, {"text_map": text})
        for image, roi, text in zip(images, rois, texts, strict=True)
    ]
    got = predictor.run(items)
    padded = np.full((2, HEIGHT, WIDTH, 3), predictor.info.pad_value, np.uint8)
    padded_text = np.zeros((2, HEIGHT, WIDTH, TEXT_CHANNELS), np.float32)
    for k, ((h, w), image, text) in enumerate(zip(sizes, images, texts, strict=True)):
        padded[k, :h, :w], padded_text[k, :h, :w] = image, text[0]
    all_rois = np.concatenate([inclusive_rois(b, k) for k, b in enumerate(boxes)])
    (expected,) = textmaps.keras_scores(
        {"screenshot": padded, "text_map": padded_text, "boxes": all_rois}
    ).values()
    np.testing.assert_allclose(got[0].rois, expected[:2], rtol=0, atol=1e-4)
    np.testing.assert_allclose(got[1].rois, expected[2:], rtol=0, atol=1e-4)


def test_a_shrunk_image_takes_its_text_map_shrunk_by_nearest_neighbour(
    textmaps: OwnModel,
) -> None:
    info = Predictor(textmaps.onnx, ["CPUExecutionProvider"]).info
    given = np.arange(8 * 6 * 4, dtype=np.float32).reshape(1, 8, 6, 4)
    picture = Picture(np.zeros((4, 3, 3), np.uint8), width=6, height=8, scale=0.5)
    fitted = fit_to_image(info, {"text_map": given}, picture)["text_map"]
    np.testing.assert_array_equal(fitted, given[:, 1::2, 1::2])
