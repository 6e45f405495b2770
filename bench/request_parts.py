"""One boxes request of bench front-end split into its parts, in this process, with this
tree's code and the same model: what the server's CPU per request holds besides HTTP."""

import json
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench.report import table
from service.inference.predictor import Predictor
from service.regions.answer import ImageSize, ModelId, RegionsAnswer
from service.regions.answer_json import answer_json
from service.regions.labels import box_regions
from service.regions.prepare import prepare_request
from service.regions.request import RegionRequest
from service.settings import Settings

REPEATS = 200


def cpu_ms(fn: Callable[[], Any]) -> float:
    """Median CPU ms of this process (onnxruntime's threads included) per call."""
    fn()
    samples = []
    for _ in range(REPEATS):
        start = time.process_time()
        fn()
        samples.append(time.process_time() - start)
    return statistics.median(samples) * 1e3


def parts_ms(predictor: Predictor, settings: Settings, request: RegionRequest) -> list[float]:
    """CPU ms of decode and prepare, of the model's run, and of the answer."""
    info = predictor.info
    prepared = prepare_request(info, settings, request, "boxes")
    scores = predictor.run([prepared.item])[0]
    size = ImageSize(prepared.picture.width, prepared.picture.height)

    def answer() -> bytes:
        regions = box_regions(info, prepared.boxes, scores.rois, 3)
        return answer_json(RegionsAnswer(ModelId("m", "1"), size, "boxes", regions, {}))

    return [
        cpu_ms(partial(prepare_request, info, settings, request, "boxes")),
        cpu_ms(partial(predictor.run, [prepared.item])),
        cpu_ms(answer),
    ]


def measure(model: Path, images: dict[str, bytes], boxes: list[list[float]]) -> str:
    settings = Settings(model_path=model)
    predictor = Predictor.from_settings(settings)
    rows = []
    for name, data in images.items():
        request = RegionRequest(data, json.loads(json.dumps(boxes)), 3, "boxes")
        parts = parts_ms(predictor, settings, request)
        rows.append([f"{name}, boxes (32)", *(f"{ms:.2f}" for ms in parts), f"{sum(parts):.2f}"])
    header = [
        "512x512 request (now)",
        "decode and prepare ms CPU",
        "feed, session.run, score split ms CPU",
        "regions and JSON bytes ms CPU",
        "sum",
    ]
    note = (
        f"One request's parts in one process (median CPU ms of {REPEATS} calls, onnxruntime "
        "with the service's settings): the server's CPU per request above less this sum is its "
        "HTTP, multipart, routing, middleware, metrics and thread hop."
    )
    return f"{note}\n\n{table(header, rows)}"
