"""A model whose inputs have fixed sizes (a 96x128 page, its 12x16 layout grid), served through
the real app: ready at its own sizes, and every other image size brought to them by the one
documented rule (service/regions/picture.py), never silently."""

import io
import json
import math
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from service.regions.answer import Size
from service.regions.imaging import decode_picture
from service.regions.prepare import prepare_request
from service.regions.request import RegionRequest
from tests.model_export.zoo.models import CLASSES
from tests.service.app_serving import serving
from tests.service.conftest import png_bytes
from tests.service.own_models.conftest import (
    ExportZoo,
    OwnModel,
    assert_scores_match,
    letterboxed,
    npy,
)

HEIGHT, WIDTH, STRIDE, PAD = 96, 128, 8, 128  # the model's page; its export's pad value
LAYOUT_CHANNELS = 2
TOP_K = str(len(CLASSES))
RULE = (
    "an image wider than 128 px or taller than 96 px shrinks to fit inside 128x96 (width x "
    "height), aspect ratio kept (bilinear), and a smaller one never grows; the model sees it at "
    "the top left, padded at the bottom and right with 128 to exactly 128x96; boxes, proposals, "
    "superpixels and image-sized extra inputs map through the same scale, regions are answered "
    "in the image's own pixels, and image.resized_to gives the size the model saw when the "
    "image was shrunk"
)


@pytest.fixture(scope="module")
def page_model(export_zoo: ExportZoo) -> OwnModel:
    return export_zoo("fixed_page")


@pytest.fixture(scope="module")
def client(page_model: OwnModel) -> Iterator[TestClient]:
    with serving(page_model.onnx) as test_client:
        yield test_client


def page(seed: int, height: int, width: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def layout_for(seed: int, height: int, width: int) -> np.ndarray:
    """The layout grid a client sends with an image of height x width: one cell per 8 px."""
    rows, cols = math.ceil(height / STRIDE), math.ceil(width / STRIDE)
    return np.random.default_rng(seed).standard_normal((1, rows, cols, 2)).astype(np.float32)


def post(client: TestClient, pixels: np.ndarray, layout: bytes, **fields: str) -> dict:
    files = {"image": ("x.png", png_bytes(pixels)), "layout": ("layout.npy", layout)}
    response = client.post("/classify-regions", files=files, data=fields)
    return {"status": response.status_code, "body": response.json()}


def model_feed(pixels: np.ndarray, layout: np.ndarray, boxes: list[list[int]]) -> dict:
    """What the rule gives the model: the 96x128 page padded with 128 at the top left."""
    fed = letterboxed(pixels, layout, boxes, (HEIGHT, WIDTH), STRIDE, PAD)
    return {"page": fed.image, "layout": fed.grid, "boxes": fed.rois}


def test_ready_at_its_own_sizes_and_v1_model_gives_the_rule(client: TestClient) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["self_test"].startswith("passed (3 recorded samples, largest difference")
    described = client.get("/v1/model").json()["input"]
    assert described["image"] == {"fixed_size": [HEIGHT, WIDTH], "max_side": WIDTH, "resize": RULE}
    assert described["working_max_side"] == WIDTH
    assert described["extra_inputs"] == [
        {
            "name": "layout",
            "dtype": "float32",
            "shape": [1, -1, -1, LAYOUT_CHANNELS],
            "follows_image": {"axes": [1, 2], "divisor": STRIDE},
            "fixed_size": [HEIGHT // STRIDE, WIDTH // STRIDE],
        }
    ]


SIZES = [
    pytest.param((HEIGHT, WIDTH), [[0, 0, 30, 30], [10, 20, 128, 96], [33, 2, 64, 40]], id="own"),
    pytest.param((192, 320), [[0, 0, 100, 100], [150, 40, 320, 192], [37, 11, 250, 150]],
                 id="wider"),
    pytest.param((300, 200), [[0, 0, 100, 100], [20, 150, 200, 300], [50, 50, 150, 260]],
                 id="taller"),
    pytest.param((50, 70), [[0, 0, 30, 30], [10, 20, 70, 50], [33, 2, 64, 40]], id="smaller"),
]  # fmt: skip


@pytest.mark.parametrize(("size", "boxes"), SIZES)
def test_any_image_size_gets_the_keras_scores_of_what_the_rule_feeds(
    client: TestClient, page_model: OwnModel, size: tuple[int, int], boxes: list[list[int]]
) -> None:
    pixels, layout = page(1, *size), layout_for(2, *size)
    answer = post(client, pixels, npy(layout), boxes=json.dumps(boxes), top_k=TOP_K)
    assert answer["status"] == 200, answer["body"]
    (expected,) = page_model.keras_scores(model_feed(pixels, layout, boxes)).values()
    assert_scores_match(answer["body"]["regions"], expected)
    assert [r["box"] for r in answer["body"]["regions"]] == boxes  # the client's pixels
    height, width = size
    scale = min(1.0, HEIGHT / height, WIDTH / width)
    image: dict = {"width": width, "height": height}
    if scale < 1:  # only a shrink is a resize: a smaller image is padded, never grown
        image["resized_to"] = {"width": round(width * scale), "height": round(height * scale)}
    assert answer["body"]["image"] == image


def test_proposals_found_on_the_shrunk_page_are_answered_in_its_own_pixels(
    client: TestClient,
) -> None:
    pixels = np.full((192, 320, 3), 255, np.uint8)
    pixels[60:180, 150:300] = (200, 30, 30)  # a block that selective search finds
    layout = npy(layout_for(2, 192, 320))
    answer = post(client, pixels, layout, mode="proposals")
    assert answer["status"] == 200, answer["body"]
    resized = {"width": 128, "height": 77}  # scale min(96 / 192, 128 / 320) = 0.4
    assert answer["body"]["image"] == {"width": 320, "height": 192, "resized_to": resized}
    request = RegionRequest(png_bytes(pixels), None, 3, "proposals", {"layout": layout})
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    prepared = prepare_request(runtime.info, runtime.settings, request, "proposals")
    assert prepared.item.pixels.shape == (77, 128, 3)
    found = prepared.item.rois  # the model's pixels, inclusive ends
    assert len(found) > 0
    np.testing.assert_allclose(prepared.boxes[:, :2] * 0.4, found[:, :2], rtol=0, atol=1e-4)
    assert prepared.boxes[:, 2].max() > WIDTH  # answered beyond the model's page
    assert (prepared.boxes >= 0).all() and (prepared.boxes <= [320, 192, 320, 192]).all()


@pytest.mark.parametrize("image_format", ["JPEG", "PNG"])
def test_a_turned_image_fits_the_fixed_size_as_displayed(image_format: str) -> None:
    """The bound holds for the image as displayed, after its EXIF orientation."""
    out, exif = io.BytesIO(), Image.Exif()
    exif[0x0112] = 6  # stored 400 wide and 200 high, shown turned a quarter: 200 x 400
    Image.new("RGB", (400, 200)).save(out, format=image_format, exif=exif)
    picture = decode_picture(out.getvalue(), 10**7, (HEIGHT, WIDTH), 2**30)
    assert (picture.width, picture.height, picture.scale) == (200, 400, HEIGHT / 400)
    assert picture.pixels.shape == (96, 48, 3)
    assert picture.resized_to == Size(width=48, height=96)


def _npy_of(shape: tuple[int, ...], dtype: type = np.float32) -> bytes:
    return npy(np.zeros(shape, dtype))


REFUSED = [
    pytest.param(
        _npy_of((1, 12, 16, 2)),
        "input 'layout' has axes 1 and 2 of 12x16; the 192x320 image (height x width) takes "
        "24x40 (ceil(side / 8))",
        id="the-models-size-for-a-larger-image",
    ),
    pytest.param(
        _npy_of((1, 24, 40, 3)),
        "input 'layout' has shape [1, 24, 40, 3]; the model takes [1, -1, -1, 2] (-1: any size, "
        "none empty)",
        id="channels",
    ),
    pytest.param(
        _npy_of((1, 24, 40, 2), np.float64),
        "input 'layout' has dtype <f8; the model takes float32",
        id="float64",
    ),
]


@pytest.mark.parametrize(("layout", "detail"), REFUSED)
def test_a_layout_that_does_not_fit_is_a_422_naming_it(
    client: TestClient, layout: bytes, detail: str
) -> None:
    answer = post(client, page(1, 192, 320), layout, boxes="[[0, 0, 10, 10]]")
    assert answer == {
        "status": 422,
        "body": {
            "type": "about:blank",
            "title": "Unprocessable value",
            "status": 422,
            "detail": detail,
        },
    }
