"""The benchmark's requests in the Open Inference Protocol's binary form (Triton's binary tensor
data extension), and the feeds the service itself would build for the same scenes."""

import json
from functools import cached_property

import numpy as np

from bench.load import Payload
from bench.service_latency import InProcessLoop
from service.regions.prepare import prepare_request
from service.regions.request import RegionRequest
from service.v2.body import HEADER_LENGTH
from service.v2.datatypes import BYTES, from_numpy, serialize_bytes


def binary_payload(tensors: dict[str, np.ndarray]) -> Payload:
    """An infer request with every input as binary data and every output asked in binary."""
    described, chunks = [], []
    for name, array in tensors.items():
        datatype = from_numpy(array)
        data = serialize_bytes(array) if datatype == BYTES else array.tobytes()
        described.append(
            {
                "name": name,
                "shape": list(array.shape),
                "datatype": datatype,
                "parameters": {"binary_data_size": len(data)},
            }
        )
        chunks.append(data)
    header = json.dumps({"inputs": described, "parameters": {"binary_data_output": True}})
    body = header.encode() + b"".join(chunks)
    return Payload(body, "application/octet-stream", ((HEADER_LENGTH, str(len(header))),))


def regions_payload(image: bytes, boxes: list[list[int]], top_k: int) -> Payload:
    """The `<name>-regions` model's inputs: the encoded image, its boxes, top_k."""
    return binary_payload(
        {
            "image": np.array([image], dtype=object),
            "boxes": np.asarray(boxes, np.float32),
            "top_k": np.array([top_k], np.int32),
        }
    )


class FeedLoop(InProcessLoop):
    """predictor.run_feed on the feed the service builds for each request (decoded and
    prepared beforehand): the work a V2 infer on the model asks of the server."""

    @cached_property
    def feeds(self) -> list[dict[str, np.ndarray]]:
        feeds = []
        for image, boxes in self.requests:
            request = RegionRequest(image, boxes, 3, "boxes")
            prepared = prepare_request(self.predictor.info, self.settings, request, "boxes")
            feeds.append(self.predictor.feed([prepared.item]))
        return feeds

    def one(self, i: int) -> None:
        self.predictor.run_feed(self.feeds[i % len(self.feeds)])
