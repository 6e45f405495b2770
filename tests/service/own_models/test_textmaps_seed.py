"""The TextMaps network exactly as written (fixed 1280x1280 float32 screenshot, fixed
160x160x128 text map, a padded feature map) exported through the real CLI and served at its
own size: the region API, V2 infer on the raw model and V2 `-regions` all give Keras' scores;
other screenshot sizes go through the documented resize."""

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import DEVNULL

import keras
import numpy as np
import pytest
import tritonclient.http as httpclient
from fastapi.testclient import TestClient

from model_export.onnx_export import command
from model_export.onnx_export.samples import keras_outputs
from tests.model_export.zoo.conftest import export_args
from tests.model_export.zoo.models import randomise_batch_norm
from tests.service.app_serving import serving
from tests.service.conftest import png_bytes
from tests.service.own_models.conftest import letterboxed, npy
from tests.service.own_models.textmaps_seed import (
    CLASSES,
    EXPORT_FLAGS,
    SIDE,
    STRIDE,
    TEXT_CHANNELS,
    TEXT_SIDE,
    textmaps_seed,
)
from tests.service.service_process import free_port, start_service, wait_ready

BOXES = [[0, 0, 400, 120], [640, 320, 1280, 1280], [100, 900, 260, 1000]]
PAD_VALUE = 128  # the export's default
SCALE = np.float32(1 / 255)  # --image-scale, as the service applies it


@dataclass(frozen=True)
class Exported:
    onnx: Path
    keras: keras.Model


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    folder = tmp_path_factory.mktemp("textmaps_seed")
    (folder / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    keras.utils.set_random_seed(0)
    randomise_batch_norm(textmaps_seed()).save(folder / "textmaps.keras")
    onnx_path = folder / "textmaps.onnx"
    flags: list[str | Path] = ["--classes", folder / "classes.txt", *EXPORT_FLAGS]
    command.export_command(
        export_args("--model", folder / "textmaps.keras", "--out", onnx_path, *flags)
    )
    return Exported(onnx_path, keras.saving.load_model(folder / "textmaps.keras"))


@pytest.fixture(scope="module")
def client(exported: Exported) -> Iterator[TestClient]:
    with serving(exported.onnx, max_request_bytes=64 * 2**20) as test_client:
        yield test_client


def screenshot(seed: int, height: int = SIDE, width: int = SIDE) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def text_map(seed: int, rows: int = TEXT_SIDE, cols: int = TEXT_SIDE) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((1, rows, cols, TEXT_CHANNELS)).astype(np.float32)


def model_feed(pixels: np.ndarray, text: np.ndarray, boxes: list[list[int]]) -> dict:
    """What the rule gives the model, the screenshot scaled by 1/255 as the service does."""
    fed = letterboxed(pixels, text, boxes, (SIDE, SIDE), STRIDE, PAD_VALUE)
    shot = np.multiply(fed.image, SCALE, dtype=np.float32)
    return {"screenshot": shot, "text_map": fed.grid, "boxes": fed.rois}


def keras_scores(exported: Exported, feed: dict) -> np.ndarray:
    (scores,) = keras_outputs(exported.keras, feed).values()
    return np.asarray(scores)


def region_scores(regions: list[dict]) -> np.ndarray:
    """Rows of scores in CLASSES order (top_k = every class)."""
    rows = [{t["label"]: t["score"] for t in region["top_k"]} for region in regions]
    return np.array([[row[c] for c in CLASSES] for row in rows], np.float32)


def post(client: TestClient, pixels: np.ndarray, text: bytes, boxes: list) -> dict:
    files = {"image": ("shot.png", png_bytes(pixels)), "text_map": ("text_map.npy", text)}
    fields = {"boxes": json.dumps(boxes), "top_k": str(len(CLASSES))}
    response = client.post("/classify-regions", files=files, data=fields)
    return {"status": response.status_code, "body": response.json()}


def test_ready_at_its_own_size(client: TestClient) -> None:
    assert client.get("/readyz").json()["self_test"].startswith("passed (3 recorded samples")
    image = client.get("/v1/model").json()["input"]["image"]
    assert image["fixed_size"] == [SIDE, SIDE]
    assert image["max_side"] == SIDE


def test_a_full_size_screenshot_gets_the_keras_scores(
    client: TestClient, exported: Exported
) -> None:
    pixels, text = screenshot(1), text_map(2)
    answer = post(client, pixels, npy(text), BOXES)
    assert answer["status"] == 200, answer["body"]
    assert answer["body"]["image"] == {"width": SIDE, "height": SIDE}  # not resized
    expected = keras_scores(exported, model_feed(pixels, text, BOXES))
    np.testing.assert_allclose(region_scores(answer["body"]["regions"]), expected, atol=1e-4)
    assert np.std(expected) > 1e-3  # the scores tell the boxes apart


@pytest.mark.parametrize(("height", "width"), [(700, 1000), (1200, 1600)])
def test_other_sizes_get_the_documented_resize(
    client: TestClient, exported: Exported, height: int, width: int
) -> None:
    pixels = screenshot(3, height, width)
    text = text_map(4, math.ceil(height / STRIDE), math.ceil(width / STRIDE))
    boxes = [[0, 0, 400, 120], [500, 300, width, height], [100, 600, 260, 680]]
    answer = post(client, pixels, npy(text), boxes)
    assert answer["status"] == 200, answer["body"]
    expected = keras_scores(exported, model_feed(pixels, text, boxes))
    np.testing.assert_allclose(region_scores(answer["body"]["regions"]), expected, atol=1e-4)
    assert [r["box"] for r in answer["body"]["regions"]] == boxes  # in the client's pixels
    scale = min(1.0, SIDE / height, SIDE / width)
    image: dict = {"width": width, "height": height}
    if scale < 1:
        image["resized_to"] = {"width": round(width * scale), "height": round(height * scale)}
    assert answer["body"]["image"] == image


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        (np.zeros((1, TEXT_SIDE, TEXT_SIDE, 64), np.float32), "shape [1, 160, 160, 64]"),
        (np.zeros((1, TEXT_SIDE, TEXT_SIDE, TEXT_CHANNELS)), "dtype <f8"),
        (np.zeros((1, 80, 80, TEXT_CHANNELS), np.float32), "axes 1 and 2 of 80x80"),
    ],
    ids=["channels", "float64", "half-size"],
)
def test_a_text_map_that_does_not_fit_is_a_422_naming_it(
    client: TestClient, text: np.ndarray, detail: str
) -> None:
    answer = post(client, screenshot(1), npy(text), BOXES[:1])
    assert answer["status"] == 422
    assert answer["body"]["detail"].startswith(f"input 'text_map' has {detail}")
    assert client.get("/readyz").status_code == 200


@pytest.fixture(scope="module")
def triton(exported: Exported) -> Iterator[httpclient.InferenceServerClient]:
    """A real `python -m service` that takes the raw model's 33 MB of float tensors."""
    port = free_port()
    limit = {"REGIONSERVE_MAX_REQUEST_BYTES": str(64 * 2**20)}
    process = start_service(exported.onnx, port, settings=limit, stdout=DEVNULL, stderr=DEVNULL)
    try:
        wait_ready(process, f"http://127.0.0.1:{port}/v2/health/ready")
        yield httpclient.InferenceServerClient(f"127.0.0.1:{port}", network_timeout=120)
    finally:
        process.terminate()
        process.wait(30)


def tensor(name: str, array: np.ndarray, datatype: str) -> httpclient.InferInput:
    return httpclient.InferInput(name, list(array.shape), datatype).set_data_from_numpy(array)


def test_v2_infer_on_the_raw_model_gives_the_keras_scores(
    triton: httpclient.InferenceServerClient, exported: Exported
) -> None:
    feed = model_feed(screenshot(5), text_map(6), BOXES)
    inputs = [tensor(name, array, "FP32") for name, array in feed.items()]
    result = triton.infer("textmaps", inputs)
    np.testing.assert_allclose(
        result.as_numpy("scores"), keras_scores(exported, feed), rtol=0, atol=1e-4
    )


def test_v2_regions_gives_the_region_apis_scores(
    triton: httpclient.InferenceServerClient, exported: Exported
) -> None:
    pixels, text = screenshot(7), text_map(8)
    inputs = [
        tensor("image", np.array([png_bytes(pixels)], dtype=object), "BYTES"),
        tensor("boxes", np.array(BOXES, np.float32), "FP32"),
        tensor("box_counts", np.array([len(BOXES)], np.int32), "INT32"),
        tensor("top_k", np.array([len(CLASSES)], np.int32), "INT32"),
        tensor("text_map", text, "FP32"),
    ]
    result = triton.infer("textmaps-regions", inputs)
    labels, scores = result.as_numpy("labels"), result.as_numpy("scores")
    rows = [
        {label.decode(): score for label, score in zip(row_labels, row_scores, strict=True)}
        for row_labels, row_scores in zip(labels, scores, strict=True)
    ]
    got = np.array([[row[c] for c in CLASSES] for row in rows], np.float32)
    expected = keras_scores(exported, model_feed(pixels, text, BOXES))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
    np.testing.assert_array_equal(result.as_numpy("boxes"), np.array(BOXES, np.float32))
