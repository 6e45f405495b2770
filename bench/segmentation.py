"""`bench segmentation`: superpixels mode's segmentation candidates, each timed on the same
512x512 scenes (interleaved, median) and scored on the same independent evaluation scenes:
the share of superpixels on digits (ink covers over half) that superpixels mode labels right,
on the 20 superpixel scenes `python -m model_export evaluate` draws (seed 1234, its generator
kept in step through its box scenes) and on 20 more (seed 777). The service's choice is the
row marked (now): see service/regions/superpixels.py."""

import io
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from unittest import mock

import cv2
import numpy as np
from PIL import Image

from bench.report import table, write_section
from bench.scenes import request_images
from model_export.dataset.digits import TEST_FRACTION, split_digits
from model_export.evaluation.measure import (
    BOX_KINDS,
    ServedModel,
    drawn_boxes,
    superpixel_results,
)
from model_export.evaluation.scenes import EvalScene, draw_scene
from service.regions import superpixels
from service.settings import Settings

MODEL = Path("models/region_classifier.onnx")
Segmentation = Callable[[np.ndarray, int, float, int], np.ndarray]


def scikit_slic(shrink: int, iterations: int) -> Segmentation:
    return partial(superpixels.slic_superpixels, shrink=shrink, iterations=iterations)


def opencv_slic(pixels: np.ndarray, area: int, compactness: float, limit: int) -> np.ndarray:
    """OpenCV's ximgproc SLIC at half the side, on OpenCV's 8-bit Lab."""
    height, width = pixels.shape[:2]
    small = cv2.resize(pixels, (-(-width // 2), -(-height // 2)), interpolation=cv2.INTER_AREA)
    found = cv2.ximgproc.createSuperpixelSLIC(
        cv2.cvtColor(small, cv2.COLOR_RGB2Lab), cv2.ximgproc.SLIC, round(area**0.5 / 2), compactness
    )
    found.iterate(10)
    found.enforceLabelConnectivity(25)
    return _full_size(found.getLabels(), width, height)


def opencv_seeds(pixels: np.ndarray, area: int, compactness: float, limit: int) -> np.ndarray:
    """OpenCV's ximgproc SEEDS at half the side (4 levels, 4 iterations)."""
    height, width = pixels.shape[:2]
    count = min(max(round(height * width / area), 1), limit)
    small = cv2.resize(pixels, (-(-width // 2), -(-height // 2)), interpolation=cv2.INTER_AREA)
    found = cv2.ximgproc.createSuperpixelSEEDS(small.shape[1], small.shape[0], 3, count, 4, 2, 5)
    found.iterate(cv2.cvtColor(small, cv2.COLOR_RGB2Lab), 4)
    return _full_size(found.getLabels(), width, height)


def _full_size(ids: np.ndarray, width: int, height: int) -> np.ndarray:
    ids = np.asarray(ids, np.int32)
    return np.asarray(cv2.resize(ids, (width, height), interpolation=cv2.INTER_NEAREST), np.int32)


CANDIDATES: dict[str, Segmentation] = {
    "scikit-image SLIC, half side, 10 iterations (before)": scikit_slic(2, 10),
    "scikit-image SLIC, half side, 5 iterations": scikit_slic(2, 5),
    "scikit-image SLIC, half side, 4 iterations": scikit_slic(2, 4),
    "scikit-image SLIC, half side, 3 iterations": scikit_slic(2, 3),
    "scikit-image SLIC, third of the side, 10 iterations": scikit_slic(3, 10),
    "OpenCV SLIC, half side, 10 iterations": opencv_slic,
    "OpenCV SEEDS, half side": opencv_seeds,
    "the service's segmentation (now)": superpixels.slic_superpixels,
}


def evaluation_scenes() -> tuple[list[EvalScene], list[EvalScene]]:
    """The evaluation's own 20 superpixel scenes, and 20 others."""
    _, pool = split_digits(TEST_FRACTION, seed=0)
    rng = np.random.default_rng(1234)
    for n in range(60):  # `evaluate`'s box scenes, drawn to keep its generator in step
        scene = draw_scene(rng, pool, cluttered=n % 2 == 1)
        for kind in BOX_KINDS:
            drawn_boxes(rng, scene, kind)
    own = [draw_scene(rng, pool, cluttered=n % 2 == 1) for n in range(20)]
    more = np.random.default_rng(777)
    return own, [draw_scene(more, pool, cluttered=n % 2 == 1) for n in range(20)]


def accuracy(model: ServedModel, segment: Segmentation, drawn: list[EvalScene]) -> str:
    with mock.patch.object(superpixels, "slic_superpixels", segment):
        on = [r.right for s in drawn for r in superpixel_results(model, s) if r.on_digit]
    return f"{np.mean(on):.4f} ({sum(on)}/{len(on)})"


def timings(rounds: int = 3) -> dict[str, float]:
    """Median ms of each candidate on the 512x512 scenes of `bench modes`, interleaved."""
    scenes = request_images(4, 512, 32, seed=28)
    images = [np.asarray(Image.open(io.BytesIO(png)).convert("RGB")) for png, _ in scenes]
    took: dict[str, list[float]] = {name: [] for name in CANDIDATES}
    for _ in range(rounds):
        for image in images:
            for name, segment in CANDIDATES.items():
                start = time.perf_counter()
                segment(image, 324, 10.0, 1024)
                took[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(ms) for name, ms in took.items()}


def main() -> None:
    model = ServedModel(Settings(model_path=MODEL))
    own, more = evaluation_scenes()
    ms = timings()
    base = ms[next(iter(CANDIDATES))]
    rows = []
    for name, segment in CANDIDATES.items():
        rows.append([name, f"{ms[name]:.1f}", f"{ms[name] / base:.2f}x",
                     accuracy(model, segment, own), accuracy(model, segment, more)])  # fmt: skip
        print(f"segmentation bench: {name}", file=sys.stderr, flush=True)
    header = [
        "segmentation",
        "median ms (512x512)",
        "vs before",
        "digit superpixels right, evaluation's 20 scenes",
        "20 more scenes (seed 777)",
    ]
    body = (
        f"{MODEL} (area 324 px, compactness 10 from its metadata), CPU; time: the segmentation "
        "alone on bench modes' 4 scenes, 3 rounds interleaved. Accuracy: superpixels mode "
        "through the service's own code with the candidate patched in.\n\n" + table(header, rows)
    )
    write_section("segmentation", "Superpixels mode: segmentation candidates", body)
