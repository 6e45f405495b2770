"""The own-model journey end to end, on a dataset that is not the digits: a COCO file of
coloured shapes with polygon masks -> `train` (a few steps) -> `export` -> the real app."""

import argparse
import json
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from model_export.dataset.shapes import build_shapes_dataset
from model_export.onnx_export import command as export
from model_export.onnx_export.samples import keras_outputs
from model_export.training import command as train
from tests.model_export.training.test_train_shapes import TINY, build_parser
from tests.model_export.zoo.conftest import export_args
from tests.service.app_serving import serving
from tests.service.conftest import png_bytes

SHAPES = ["background", "circle", "square", "triangle"]


def cli(*words: str | Path) -> argparse.Namespace:
    """`python -m model_export` words, parsed by the real CLI's parser."""
    return build_parser().parse_args([str(w) for w in words])


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("journey")
    build_shapes_dataset(folder / "shapes", train_images=8, test_images=3, seed=3)
    keras_path = folder / "shapes.keras"
    train.run(
        cli("train", "--data", folder / "shapes", "--out", keras_path, "--card",
            folder / "CARD.md", "--superpixel-eval-images", "1", *TINY, "--batch-size", "4")
    )  # fmt: skip
    export.export_command(export_args("--model", keras_path, "--out", folder / "shapes.onnx"))
    return folder


def test_a_model_trained_on_shapes_serves_their_names_with_the_keras_models_scores(
    exported: Path,
) -> None:
    annotations = json.loads((exported / "shapes" / "instances_test.json").read_text())
    first = annotations["images"][0]
    pixels = np.asarray(Image.open(exported / "shapes" / first["file_name"]).convert("RGB"))
    boxes = [
        [a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]]
        for a in annotations["annotations"]
        if a["image_id"] == first["id"]
    ]
    with serving(exported / "shapes.onnx") as client:
        described = client.get("/v1/model").json()
        ready = client.get("/readyz").json()
        files = {"image": ("shapes.png", png_bytes(pixels))}
        fields = {"boxes": json.dumps(boxes), "top_k": str(len(SHAPES))}
        answer = client.post("/classify-regions", files=files, data=fields).json()
        regions = client.post("/classify-regions", files=files, data={"mode": "superpixels"})
        proposed = client.post("/classify-regions", files=files, data={"mode": "proposals"})
    assert described["classes"] == SHAPES and described["background_class"] == 0
    assert described["input"]["modes"] == ["boxes", "proposals", "superpixels"]
    assert described["model_inputs"]["proposal_head"] is not None  # train's default: a head
    assert ready["self_test"].startswith("passed (3 recorded samples")
    model = keras.saving.load_model(exported / "shapes.keras")
    stride = described["model_inputs"]["stride"]
    rois = [[0, x1, y1, max(x2 - 1, x1), max(y2 - 1, y1)] for x1, y1, x2, y2 in boxes]
    height, width = (-(-side // stride) for side in pixels.shape[:2])
    feed = {
        "image": pixels[None],
        "rois": np.array(rois, np.float32),
        "superpixels": np.zeros((1, height, width), np.int32),
    }
    expected = keras_outputs(model, feed)[described["model_inputs"]["outputs"]["rois"]]
    assert len(answer["regions"]) == len(boxes) > 0
    for region, row in zip(answer["regions"], expected, strict=True):
        got = {entry["label"]: entry["score"] for entry in region["top_k"]}
        assert sorted(got) == sorted(SHAPES)
        np.testing.assert_allclose([got[c] for c in SHAPES], row, rtol=0, atol=1e-4)
    assert regions.status_code == 200, regions.text
    assert {r["label"] for r in regions.json()["regions"]} <= set(SHAPES)
    assert proposed.status_code == 200, proposed.text
    assert {r["label"] for r in proposed.json()["regions"]} <= set(SHAPES[1:])
