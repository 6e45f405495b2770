"""The request work every contender shares: decode, prepare, and regions from scores.

Only how the scores are computed (and served) differs between contenders.
"""

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort

from service.inference.feed import ModelInput, Scores
from service.inference.model_info import ModelInfo
from service.regions.labels import box_regions, proposal_filter, proposal_regions
from service.regions.prepare import Prepared, prepare_request
from service.regions.request import RegionRequest
from service.settings import Settings

ONNX_PATH = Path("models/region_classifier.onnx")


def model_info() -> ModelInfo:
    meta = ort.InferenceSession(str(ONNX_PATH), providers=["CPUExecutionProvider"]).get_modelmeta()
    return ModelInfo.from_metadata(str(ONNX_PATH), meta.custom_metadata_map)


class RequestWork:
    """decode -> prepare -> (scores from `run`) -> regions, as the service does it."""

    def __init__(self, run: Callable[[list[ModelInput]], list[Scores]]) -> None:
        self.settings = Settings(model_path=ONNX_PATH)
        self.info = model_info()
        self.rule = proposal_filter(self.settings)
        self.run = run

    def prepared(self, image: bytes, boxes: str | None) -> tuple[str, Prepared]:
        mode = "boxes" if boxes else "proposals"
        request = RegionRequest(image, json.loads(boxes) if boxes else None, 3, mode)
        return mode, prepare_request(self.info, self.settings, request, mode)

    def regions(self, mode: str, prepared: Prepared, scores: Scores) -> dict:
        p = prepared
        if mode == "boxes":
            regions = box_regions(self.info, p.boxes, scores.rois, 3)
        else:
            regions = proposal_regions(self.info, p.boxes, scores.rois, 3, self.rule)
        return {"mode": mode, "regions": [region.as_json() for region in regions]}

    def handle(self, image: bytes, boxes: str | None) -> dict:
        mode, prepared = self.prepared(image, boxes)
        scores = self.run([prepared.item])[0]
        return self.regions(mode, prepared, scores)


def scores_from_outputs(batch: list[ModelInput], roi_scores: np.ndarray) -> list[Scores]:
    counts = [len(p.rois) for p in batch]
    splits = np.split(roi_scores, np.cumsum(counts)[:-1])
    return [Scores(s, np.zeros((0, roi_scores.shape[1]), np.float32)) for s in splits]
