"""A user's two-input model (TextMaps: screenshot and text map) exported, then served by
`python -m service` and asked through the Open Inference Protocol with both inputs: the ONNX
model itself, and `<name>-regions` with a batch of screenshots, a text map and a box list
each, in JSON and in Triton's binary extension."""

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import DEVNULL

import httpx
import keras
import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException, np_to_triton_dtype

from model_export.onnx_export import command
from model_export.onnx_export.samples import keras_outputs, read_samples
from tests.model_export.zoo.conftest import export_args
from tests.model_export.zoo.models import CLASSES, build
from tests.service.conftest import png_bytes
from tests.service.service_process import free_port, start_service, wait_ready

HEIGHT, WIDTH, TEXT_CHANNELS = 48, 64, 4
OUTPUT_NAMES = ["labels", "scores", "boxes", "region_counts"]
BOXES = [[[0, 0, 30, 30], [10, 20, 60, 47], [33, 2, 64, 40]], [[4, 4, 40, 44], [20, 8, 64, 30]]]


def export_textmaps(folder: Path) -> Path:
    (folder / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    build("textmaps").save(folder / "textmaps.keras")
    onnx_path = folder / "textmaps.onnx"
    command.export_command(
        export_args("--model", folder / "textmaps.keras", "--out", onnx_path, "--classes",
                    folder / "classes.txt")
    )  # fmt: skip
    return onnx_path


@dataclass(frozen=True)
class Served:
    model: Path
    keras: keras.Model
    base: str  # http://host:port
    client: httpclient.InferenceServerClient
    name: str  # the model's name, from its metadata


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    model = export_textmaps(tmp_path_factory.mktemp("textmaps"))
    reference = keras.saving.load_model(model.with_suffix(".keras"))
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    port = free_port()
    process = start_service(model, port, stdout=DEVNULL, stderr=DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(process, f"{base}/v2/health/ready")
        client = httpclient.InferenceServerClient(f"127.0.0.1:{port}")
        name = session.get_modelmeta().custom_metadata_map["name"]
        yield Served(model, reference, base, client, name)
        client.close()
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_textmaps_is_served_through_v2_infer_with_both_inputs(served: Served) -> None:
    session = ort.InferenceSession(str(served.model), providers=["CPUExecutionProvider"])
    for feed, recorded in read_samples(served.model.with_suffix(".samples.npz")):
        inputs = []
        for input_name, array in feed.items():
            dtype = np_to_triton_dtype(array.dtype)
            tensor = httpclient.InferInput(input_name, list(array.shape), dtype)
            inputs.append(tensor.set_data_from_numpy(array))
        result = served.client.infer(served.name, inputs)
        names = list(recorded)
        for out, want in zip(names, session.run(names, feed), strict=True):
            np.testing.assert_allclose(result.as_numpy(out), want, rtol=0, atol=1e-6)
            np.testing.assert_allclose(result.as_numpy(out), recorded[out], rtol=0, atol=1e-4)
    assert len(feed) == 3  # screenshot, text map and boxes


def test_the_regions_model_lists_the_text_map(served: Served) -> None:
    inputs = served.client.get_model_metadata(f"{served.name}-regions")["inputs"]
    assert inputs[-1] == {"name": "text_map", "datatype": "FP32", "shape": [-1, -1, -1, 4]}
    assert [i["name"] for i in inputs] == ["image", "boxes", "box_counts", "top_k", "text_map"]


def screenshots(seed: int, count: int) -> tuple[list[np.ndarray], np.ndarray]:
    """`count` screenshots and their text maps, stacked: (count, H, W, channels)."""
    rng = np.random.default_rng(seed)
    pixels = [rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8) for _ in range(count)]
    texts = rng.standard_normal((count, HEIGHT, WIDTH, TEXT_CHANNELS)).astype(np.float32)
    return pixels, texts


def regions_inputs(
    pixels: list[np.ndarray], texts: np.ndarray, binary: bool
) -> list[httpclient.InferInput]:
    """The encoded images always binary (they are not text); the rest as `binary` says."""
    tensors = {
        "image": np.array([png_bytes(p) for p in pixels], dtype=object),
        "boxes": np.array([b for each in BOXES for b in each], np.float32),
        "box_counts": np.array([len(each) for each in BOXES], np.int32),
        "top_k": np.array([len(CLASSES)], np.int32),
        "text_map": texts,
    }
    datatypes = {"image": "BYTES", "box_counts": "INT32", "top_k": "INT32"}
    inputs = []
    for name, array in tensors.items():
        tensor = httpclient.InferInput(name, list(array.shape), datatypes.get(name, "FP32"))
        inputs.append(tensor.set_data_from_numpy(array, binary_data=binary or name == "image"))
    return inputs


def class_scores(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Rows of scores in CLASSES order, from rows of (label, score) best first."""
    rows = []
    for row_labels, row_scores in zip(labels, scores, strict=True):
        by_label = {
            (label if isinstance(label, str) else label.decode()): score
            for label, score in zip(row_labels, row_scores, strict=True)
        }
        rows.append([by_label[c] for c in CLASSES])
    return np.array(rows, np.float32)


def region_api_scores(served: Served, pixels: np.ndarray, text: np.ndarray, boxes: list) -> list:
    out = io.BytesIO()
    np.save(out, text[None], allow_pickle=False)
    answer = httpx.post(
        f"{served.base}/classify-regions",
        files={"image": ("shot.png", png_bytes(pixels)), "text_map": ("t.npy", out.getvalue())},
        data={"boxes": json.dumps(boxes), "top_k": str(len(CLASSES))},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    return [{t["label"]: t["score"] for t in r["top_k"]} for r in answer.json()["regions"]]


def keras_scores(served: Served, pixels: np.ndarray, text: np.ndarray, boxes: list) -> np.ndarray:
    rois = np.array([[0, x1, y1, x2 - 1, y2 - 1] for x1, y1, x2, y2 in boxes], np.float32)
    feed = {"screenshot": pixels[None], "text_map": text[None], "boxes": rois}
    (scores,) = keras_outputs(served.keras, feed).values()
    return scores


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_a_batch_with_text_maps_scores_as_the_region_api_and_keras(
    served: Served, binary: bool
) -> None:
    pixels, texts = screenshots(seed=3, count=len(BOXES))
    outputs = [httpclient.InferRequestedOutput(n, binary_data=binary) for n in OUTPUT_NAMES]
    result = served.client.infer(
        f"{served.name}-regions", regions_inputs(pixels, texts, binary), outputs=outputs
    )
    counts = result.as_numpy("region_counts")
    assert counts.tolist() == [len(b) for b in BOXES]
    split = np.cumsum(counts)[:-1]
    labels, scores = (np.split(result.as_numpy(n), split) for n in ("labels", "scores"))
    boxes = np.split(result.as_numpy("boxes"), split)
    for k, image_boxes in enumerate(BOXES):
        got = class_scores(labels[k], scores[k])
        api = region_api_scores(served, pixels[k], texts[k], image_boxes)
        want = np.array([[r[c] for c in CLASSES] for r in api], np.float32)  # as V2 sends them
        np.testing.assert_array_equal(got, want)
        expected = keras_scores(served, pixels[k], texts[k], image_boxes)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-4)
        assert np.std(expected) > 1e-4  # the reference is not degenerate
        np.testing.assert_array_equal(boxes[k], np.array(image_boxes, np.float32))


@pytest.mark.parametrize(
    ("texts", "says"),
    [
        (
            np.zeros((2, HEIGHT, WIDTH, 3), np.float32),
            "input 'text_map' has shape [2, 48, 64, 3]; the model takes [-1, -1, -1, 4]",
        ),
        (
            np.zeros((1, HEIGHT, WIDTH, TEXT_CHANNELS), np.float32),
            "input 'text_map' has 1 entries on axis 0 for 2 images",
        ),
        (
            np.zeros((2, HEIGHT // 2, WIDTH, TEXT_CHANNELS), np.float32),
            "image 0: input 'text_map' has axes 1 and 2 of 24x64; the 48x64 image",
        ),
    ],
    ids=["channels", "batch", "size"],
)
def test_a_text_map_that_does_not_fit_is_a_400_naming_it(
    served: Served, texts: np.ndarray, says: str
) -> None:
    pixels, _ = screenshots(seed=4, count=2)
    with pytest.raises(InferenceServerException) as caught:
        served.client.infer(f"{served.name}-regions", regions_inputs(pixels, texts, True))
    assert caught.value.status() == "400"
    assert str(caught.value.message()).startswith(says)
