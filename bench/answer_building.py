"""Stages of bench front-end, in this process: decoding, and a superpixels answer built
(masks, regions, the answer's JSON document), the functions as committed before issue 29
(loaded from their files in the `git archive`) beside today's, on the same inputs."""

import importlib.util
import io
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from PIL import Image

from bench.report import table
from bench.scenes import request_images
from service.inference.model_info import ModelInfo
from service.regions import imaging, labels, superpixels
from service.regions.answer import ImageSize, ModelId, RegionsAnswer

REPEATS = 200
CLASSES = 11


def old(tree: Path, name: str) -> ModuleType:
    """service/regions/<name>.py of the archived tree, as a module of its own."""
    spec = importlib.util.spec_from_file_location(
        f"before_{name}", tree / "service/regions" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def median_ms(fn: Callable[[], Any]) -> float:
    fn()
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


def cluttered(side: int = 544) -> np.ndarray:
    """models/example.png (digits among clutter) enlarged to side x side: SLIC at the shipped
    model's area (324 px) makes about 770 superpixels of it."""
    example = Image.open(Path(__file__).parents[1] / "models" / "example.png").convert("RGB")
    return np.asarray(example.resize((side, side), Image.Resampling.BILINEAR))


def superpixel_answer(
    masks: Callable[..., list], regions: Callable[..., list], ids: np.ndarray, scores: np.ndarray
) -> Callable[[], dict]:
    info = ModelInfo.__new__(ModelInfo)  # only .classes is read
    object.__setattr__(info, "classes", tuple(str(c) for c in range(CLASSES)))
    height, width = ids.shape

    def build() -> dict:
        found = regions(info, masks(ids, width, height), scores, 3)
        answer = RegionsAnswer(
            ModelId("m", "1"), ImageSize(width, height), "superpixels", tuple(found), {}
        )
        return answer.as_json()

    return build


def measure(before: Path) -> str:
    old_imaging, old_labels, old_superpixels = (
        old(before, n) for n in ("imaging", "labels", "superpixels")
    )
    png, _ = request_images(1, 512, 32)[0]
    jpeg = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(jpeg, format="JPEG", quality=90)
    rows = []
    for name, data in (("decode PNG 512x512", png), ("decode JPEG q90 512x512", jpeg.getvalue())):
        then = median_ms(partial(old_imaging.decode_picture, data, 10**8, 1024, 2**30))
        now = median_ms(partial(imaging.decode_picture, data, 10**8, 1024, 2**30))
        rows.append([name, f"{then:.2f}", f"{now:.2f}", f"{now / then:.2f}x"])
    ids = superpixels.slic_superpixels(cluttered(), 324, 10.0, 1024)
    scores = (
        np.random.default_rng(1).dirichlet(np.ones(CLASSES), int(ids.max()) + 1).astype(np.float32)
    )
    then_fn = superpixel_answer(old_superpixels.masks, old_labels.superpixel_regions, ids, scores)
    now_fn = superpixel_answer(superpixels.masks, labels.superpixel_regions, ids, scores)
    assert then_fn() == now_fn()
    then, now = median_ms(then_fn), median_ms(now_fn)
    name = f"superpixels answer, {int(ids.max()) + 1} regions (masks, regions, JSON document)"
    rows.append([name, f"{then:.2f}", f"{now:.2f}", f"{now / then:.2f}x"])
    note = f"Stages in one process, median of {REPEATS} calls each; same inputs, same output."
    return f"{note}\n\n{table(['stage', 'before ms', 'now ms', 'now / before'], rows)}"


if __name__ == "__main__":
    import sys

    print(measure(Path(sys.argv[1])))
