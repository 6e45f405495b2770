"""The request work every contender shares: decode, prepare, and regions from scores.

Only how the scores are computed (and served) differs between contenders.
"""

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx

from service.imaging import decode_image
from service.model_info import ModelInfo
from service.pipeline import Pipeline
from service.predictor import PreparedImage, Scores
from service.regions import box_regions, proposal_regions
from service.settings import Settings

ONNX_PATH = Path("models/region_classifier.onnx")


def model_info() -> ModelInfo:
    props = {
        p.key: p.value for p in onnx.load(str(ONNX_PATH), load_external_data=False).metadata_props
    }
    return ModelInfo.from_metadata(str(ONNX_PATH), props)


class RequestWork:
    """decode -> prepare -> (scores from `run`) -> regions, as the service does it."""

    def __init__(self, run: Callable[[list[PreparedImage]], list[Scores]]) -> None:
        self.settings = Settings(model_path=ONNX_PATH)
        self.info = model_info()
        self.prepare = Pipeline(self.info, None, self.settings).prepare  # type: ignore[arg-type]
        self.run = run

    def prepared(self, image: bytes, boxes: str | None) -> tuple[str, object]:
        mode = "boxes" if boxes else "proposals"
        pixels = decode_image(image, self.settings.max_image_pixels)
        return mode, self.prepare(pixels, mode, json.loads(boxes) if boxes else None)

    def regions(self, mode: str, prepared: object, scores: Scores) -> dict:
        p = prepared
        if mode == "boxes":
            regions = box_regions(self.info, p.boxes, scores.rois, 3)  # type: ignore[attr-defined]
        else:
            rule = Pipeline(self.info, None, self.settings).rule  # type: ignore[arg-type]
            regions = proposal_regions(self.info, p.boxes, scores.rois, 3, rule)  # type: ignore[attr-defined]
        return {"mode": mode, "regions": regions}

    def handle(self, image: bytes, boxes: str | None) -> dict:
        mode, prepared = self.prepared(image, boxes)
        scores = self.run([prepared.item])[0]  # type: ignore[attr-defined]
        return self.regions(mode, prepared, scores)


def scores_from_outputs(batch: list[PreparedImage], roi_scores: np.ndarray) -> list[Scores]:
    counts = [len(p.rois) for p in batch]
    splits = np.split(roi_scores, np.cumsum(counts)[:-1])
    return [Scores(s, np.zeros((0, roi_scores.shape[1]), np.float32)) for s in splits]
