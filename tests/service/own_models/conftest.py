"""Users' models from the export zoo, each exported once per test session through the export
command and served by the real app, with the Keras model that is its reference."""

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
from PIL import Image

from model_export.onnx_export import command
from model_export.onnx_export.samples import keras_outputs
from tests.model_export.zoo.conftest import export_args
from tests.model_export.zoo.models import CLASSES, build

# Export flags per zoo model; the VGG-style stride-16 backbone takes a float image that the
# service must feed as (pixels - mean) / std, ImageNet's statistics.
IMAGENET_MEAN, IMAGENET_STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)
EXPORT_FLAGS: dict[str, list[str]] = {
    "vgg_nested_s16": [
        "--image-mean",
        *map(str, IMAGENET_MEAN),
        "--image-std",
        *map(str, IMAGENET_STD),
    ],
    "textmaps": [],
    "vgg_flat_s32": ["--background-class", "-1"],
    "superpixel_mean": [],
    "fixed_page": [],
    "masked_conv_two_heads": [],
    "two_stage_s8": ["--precision", "fp16"],  # its float16 file: test_float16_proposals.py
}


@dataclass(frozen=True)
class OwnModel:
    onnx: Path
    keras: keras.Model

    def keras_scores(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The Keras model's outputs, by ONNX output name, on inputs by name."""
        return keras_outputs(self.keras, feed)


ExportZoo = Callable[[str], OwnModel]


@pytest.fixture(scope="session")
def export_zoo(tmp_path_factory: pytest.TempPathFactory) -> ExportZoo:
    """`export_zoo(name)`: the zoo model exported by `python -m model_export export`'s own
    function, once per session."""
    done: dict[str, OwnModel] = {}

    def export(name: str) -> OwnModel:
        if name not in done:
            folder = tmp_path_factory.mktemp(name)
            (folder / "classes.txt").write_text("\n".join(CLASSES) + "\n")
            keras_path, onnx_path = folder / f"{name}.keras", folder / f"{name}.onnx"
            build(name).save(keras_path)
            flags: list[str | Path] = ["--classes", folder / "classes.txt", *EXPORT_FLAGS[name]]
            command.export_command(export_args("--model", keras_path, "--out", onnx_path, *flags))
            done[name] = OwnModel(onnx_path, keras.saving.load_model(keras_path))
        return done[name]

    return export


def npy(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return out.getvalue()


def scores_by_label(region: dict[str, Any]) -> dict[str, float]:
    return {entry["label"]: entry["score"] for entry in region["top_k"]}


def assert_scores_match(regions: list[dict[str, Any]], expected: np.ndarray) -> None:
    """Each region's scores (top_k = every class) within 1e-4 of the reference rows."""
    assert len(regions) == len(expected)
    for region, row in zip(regions, expected, strict=True):
        got = scores_by_label(region)
        assert sorted(got) == sorted(CLASSES)
        np.testing.assert_allclose([got[c] for c in CLASSES], row, rtol=0, atol=1e-4)
        assert np.std(row) > 1e-4  # the reference is not degenerate (as in the zoo test)


@dataclass(frozen=True)
class Letterboxed:
    """A request as the documented resize rule gives it to a fixed-size model."""

    image: np.ndarray  # (1, H, W, 3) uint8 at the model's size
    grid: np.ndarray  # (1, H / stride, W / stride, C) the image-sized extra input
    rois: np.ndarray  # (R, 5) inclusive ends, in the model's pixels


def letterboxed(
    pixels: np.ndarray,
    grid: np.ndarray,
    boxes: list[list[int]],
    size: tuple[int, int],
    stride: int,
    pad_value: int,
) -> Letterboxed:
    """The rule written out plainly: shrunk to fit `size` (height, width; bilinear, never
    grown) at the top left, padded with `pad_value`; the grid taken along by nearest neighbour
    and padded with zeros; the boxes scaled, with inclusive ends."""
    height, width = pixels.shape[:2]
    scale = min(1.0, size[0] / height, size[1] / width)
    seen = pixels
    if scale < 1:
        shrunk_size = (round(width * scale), round(height * scale))
        resampling = Image.Resampling.BILINEAR
        seen = np.asarray(Image.fromarray(pixels).resize(shrunk_size, resampling, reducing_gap=3.0))
    image = np.full((1, *size, 3), pad_value, np.uint8)
    image[0, : seen.shape[0], : seen.shape[1]] = seen
    rows, cols = math.ceil(seen.shape[0] / stride), math.ceil(seen.shape[1] / stride)
    fitted = np.zeros((1, size[0] // stride, size[1] // stride, grid.shape[3]), grid.dtype)
    fitted[:, :rows, :cols] = grid[:, _nearest(rows, grid.shape[1])][
        :, :, _nearest(cols, grid.shape[2])
    ]
    scaled = np.array(boxes, np.float64) * scale
    ends = np.maximum(scaled[:, 2:] - 1, scaled[:, :2])
    rois = np.concatenate([np.zeros((len(boxes), 1)), scaled[:, :2], ends], axis=1)
    return Letterboxed(image, fitted, rois.astype(np.float32))


def _nearest(size: int, given: int) -> np.ndarray:
    """The given index shown at each of `size` positions."""
    return np.minimum((np.arange(size) + 0.5) * given / size, given - 1).astype(int)
