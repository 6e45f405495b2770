"""No feed carries an empty tensor, in any mode, alone or batched: onnxruntime's CUDA kernels
reject them (a fused softmax over zero superpixels fails), so a CPU run must never need them."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.inference.feed import ModelInput
from service.inference.predictor import Predictor
from service.inference.sessions import WorkerSessions
from service.settings import Settings
from tests.service.conftest import fresh_scenes, png_bytes, wait_ready


class NonEmptyGuard:
    """A real onnxruntime session that fails, as a CUDA kernel would, on any empty input or
    output; it counts the runs it saw per (rois, superpixel) shape."""

    def __init__(self, session: ort.InferenceSession) -> None:
        self.session = session
        self.runs: Counter[str] = Counter()

    def run(self, names: list[str], feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        empty = [name for name, array in feed.items() if array.size == 0]
        outputs = self.session.run(names, feed)
        empty += [name for name, out in zip(names, outputs, strict=True) if out.size == 0]
        if empty:
            raise RuntimeError(f"empty tensors {empty}")
        self.runs[f"batch {len(feed['image'])}"] += 1
        return outputs

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)


def guarded_predictor(settings: Settings) -> tuple[Predictor, list[NonEmptyGuard]]:
    """Every session of every worker guarded: the whole graph and each pruned head's."""
    predictor = Predictor.from_settings(settings)
    guards = []
    for n, worker in enumerate(predictor.workers):
        whole = NonEmptyGuard(worker.whole)
        pruned = {heads: NonEmptyGuard(s) for heads, s in worker.pruned.items()}
        guards += [whole, *pruned.values()]
        predictor.workers[n] = WorkerSessions(whole, pruned)
    return predictor, guards


def requests_of_every_mode() -> list[dict[str, Any]]:
    scene = fresh_scenes(1, seed=11, max_side=256)[0]
    image = png_bytes(scene.image)
    blank = png_bytes(np.full((96, 128, 3), 200, np.uint8))  # no proposal survives
    boxes = str([list(d.box) for d in scene.digits])
    return [
        {"files": {"image": ("x.png", image)}, "data": {"boxes": boxes}},
        {"files": {"image": ("x.png", image)}, "data": {"mode": "superpixels"}},
        {"files": {"image": ("x.png", image)}, "data": {"mode": "proposals"}},
        {"files": {"image": ("x.png", blank)}, "data": {"mode": "proposals"}},
    ]


@pytest.mark.parametrize("batch_size", [1, 8])
def test_every_mode_runs_without_empty_tensors(settings: Settings, batch_size: int) -> None:
    batching = settings.model_copy(update={"max_batch_size": batch_size})
    predictor, guards = guarded_predictor(batching)
    with TestClient(create_app(batching, predictor)) as client:
        wait_ready(client)
        for request in requests_of_every_mode():
            # Each mode alone, then eight of it at once (batched together at batch size 8).
            alone = client.post("/classify-regions", **request)
            assert alone.status_code == 200, alone.text
            with ThreadPoolExecutor(8) as pool:
                together = list(
                    pool.map(lambda r: client.post("/classify-regions", **r), [request] * 8)
                )
            assert {r.status_code for r in together} == {200}, together[0].text
            if request["data"].get("mode") != "proposals":  # selective search varies by a pixel
                assert all(r.json()["regions"] == alone.json()["regions"] for r in together)
    runs = sum((g.runs for g in guards), Counter[str]())
    assert sum(runs.values()) > 0
    if batch_size == 8:
        assert any(key != "batch 1" for key in runs), runs  # some requests were batched


def test_placeholders_are_dropped_from_the_scores(settings: Settings) -> None:
    predictor = Predictor.from_settings(settings)
    image = np.full((64, 96, 3), 90, np.uint8)
    grid = np.zeros((16, 24), np.int32)
    grid[:, 12:] = 1
    boxes_only = predictor.run([ModelInput(image, np.array([[4, 4, 40, 40]], np.float32), None)])
    superpixels_only = predictor.run([ModelInput(image, np.zeros((0, 4), np.float32), grid)])
    classes = len(predictor.info.classes)
    assert boxes_only[0].rois.shape == (1, classes) and boxes_only[0].superpixels.shape == (
        0,
        classes,
    )
    assert superpixels_only[0].rois.shape == (0, classes)
    assert superpixels_only[0].superpixels.shape == (2, classes)
    feed = predictor.feed([ModelInput(image, np.zeros((0, 4), np.float32), None)])
    stride = predictor.info.stride
    np.testing.assert_array_equal(feed["rois"], [[0, 0, 0, stride - 1, stride - 1]])
    assert feed["superpixels"].max() == 0 and (feed["superpixels"] == 0).sum() == 1
