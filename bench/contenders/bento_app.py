"""BentoML serving the same ONNX file with its adaptive batching (a batchable API).

A batchable BentoML API takes one list argument that BentoML concatenates across
concurrent requests, so clients send {"requests": [{"image": base64, "boxes": [...]}]}.
Decoding, preparation, the onnxruntime session and the regions are RegionServe's own code,
so only the serving framework differs.

Run: bentoml serve bench.contenders.bento_app:RegionClassifier --port PORT
"""

import base64
import json

import bentoml
from pydantic import BaseModel

from bench.contenders.shared import ONNX_PATH, RequestWork
from service.inference.predictor import Predictor


class RegionQuery(BaseModel):
    image: str  # base64
    boxes: list[list[float]] | None = None


@bentoml.service(workers=1, traffic={"timeout": 120})
class RegionClassifier:
    def __init__(self) -> None:
        self.predictor = Predictor(ONNX_PATH, ["CPUExecutionProvider"])
        self.work = RequestWork(self.predictor.run)

    @bentoml.api(route="/classify-regions", batchable=True, max_batch_size=8, max_latency_ms=1000)
    def classify_regions(self, requests: list[RegionQuery]) -> list[dict]:
        prepared = [
            self.work.prepared(base64.b64decode(q.image), json.dumps(q.boxes) if q.boxes else None)
            for q in requests
        ]
        scores = self.predictor.run([p.item for _, p in prepared])
        return [
            self.work.regions(mode, p, s) for (mode, p), s in zip(prepared, scores, strict=True)
        ]
