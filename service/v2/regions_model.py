"""`<name>-regions`: POST /classify-regions as a V2 model, for clients holding encoded images.

One encoded image (BYTES, shape [1]) and optional boxes (FP32 [N, 4], pixels of the image as
displayed; without them the service proposes regions) and top_k (INT32 [1]) in; per region the
top-k labels (BYTES [N, K]) and scores (FP32 [N, K]) and its box (FP32 [N, 4]) out, from the
same pipeline as the region API, so the labels are the same."""

from typing import Any

import numpy as np

from service.pipeline import RegionRequest
from service.request_parsing import DEFAULT_TOP_K
from service.runtime import ModelRuntime
from service.v2.body import InferBody
from service.v2.datatypes import BYTES
from service.v2.inputs import decode_inputs
from service.v2.outputs import Encoded, encode_response, wanted_outputs
from service.v2.schemas import parse_inference_request
from service.v2.signature import ANY, TensorSpec

INPUTS = (
    TensorSpec("image", BYTES, (1,)),
    TensorSpec("boxes", "FP32", (ANY, 4), optional=True),
    TensorSpec("top_k", "INT32", (1,), optional=True),
)
OUTPUTS = (
    TensorSpec("labels", BYTES, (ANY, ANY)),
    TensorSpec("scores", "FP32", (ANY, ANY)),
    TensorSpec("boxes", "FP32", (ANY, 4)),
)


class RegionsModel:
    platform = "regionserve_pipeline"
    inputs: tuple[TensorSpec, ...] = INPUTS
    outputs: tuple[TensorSpec, ...] = OUTPUTS

    def __init__(self, runtime: ModelRuntime) -> None:
        self.runtime = runtime
        self.name, self.version = f"{runtime.info.name}-regions", runtime.info.version

    async def infer(self, body: InferBody) -> Encoded:
        request = parse_inference_request(body.header)
        tensors = decode_inputs(request.inputs, body.binary, INPUTS)
        wanted = wanted_outputs(request, OUTPUTS)
        top_k = int(tensors["top_k"][0]) if "top_k" in tensors else DEFAULT_TOP_K
        boxes = tensors["boxes"].astype(float).tolist() if "boxes" in tensors else None
        image = bytes(tensors["image"][0])
        answer = await self.runtime.pipeline.classify(RegionRequest(image, boxes, top_k, None))
        self.runtime.metrics.regions.observe(len(answer["regions"]))
        identity = {"model_name": self.name, "model_version": self.version}
        return encode_response(identity, request, region_tensors(answer["regions"], top_k), wanted)


def region_tensors(regions: list[dict[str, Any]], top_k: int) -> dict[str, np.ndarray]:
    """The region API's regions as tensors: row i is region i, column j its j-th best class."""
    labels = [[t["label"] for t in r["top_k"]] for r in regions]
    scores = [[t["score"] for t in r["top_k"]] for r in regions]
    return {
        "labels": np.array(labels, dtype=object).reshape(len(regions), top_k),
        "scores": np.asarray(scores, np.float32).reshape(len(regions), top_k),
        "boxes": np.asarray([r["box"] for r in regions], np.float32).reshape(len(regions), 4),
    }
