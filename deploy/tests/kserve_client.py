"""KServe's own REST client (protocol v2) against a running RegionServe; run by .venv-deploy's
Python, where the KServe SDK lives (deploy/requirements.txt says why it is apart):

    .venv-deploy/bin/python deploy/tests/kserve_client.py BASE_URL MODEL FEED.npz IMAGE

Asks what a KServe user asks (server live and ready, each model ready, metadata, inference in
binary and in JSON on the model and on MODEL-regions) and prints one JSON object of what it
got, for deploy/tests/test_kserve_client.py to judge. Bodies are read with KServe's own data
models, strictly: a field of the wrong type fails here."""

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from kserve.protocol.rest.v2_datamodels import (
    ModelMetadataResponse,
    ModelReadyResponse,
    ServerLiveResponse,
    ServerMetadataResponse,
    ServerReadyResponse,
)

DATATYPES = {"uint8": "UINT8", "int32": "INT32", "float32": "FP32", "object": "BYTES"}


def infer_request(model: str, tensors: dict[str, np.ndarray], binary: bool) -> InferRequest:
    inputs = []
    for name, array in tensors.items():
        tensor = InferInput(name, list(array.shape), DATATYPES[array.dtype.name])
        tensor.set_data_from_numpy(array, binary_data=binary or array.dtype == object)
        inputs.append(tensor)
    return InferRequest(model, inputs, parameters={"binary_data_output": binary})


async def outputs(
    client: InferenceRESTClient, base: str, request: InferRequest
) -> dict[str, list[Any]]:
    response = await client.infer(base, request, model_name=request.model_name)
    return {o.name: _listed(o.as_numpy()) for o in response.outputs}


def _listed(array: np.ndarray) -> list[Any]:
    if array.dtype == object:
        return [e.decode() if isinstance(e, bytes) else e for e in array.ravel().tolist()]
    return list(array.ravel().tolist())


def bodies(base: str, model: str) -> dict[str, Any]:
    """The health and metadata bodies, read by the data models of KServe's own server."""
    read = {
        "/v2/health/live": ServerLiveResponse,
        "/v2/health/ready": ServerReadyResponse,
        f"/v2/models/{model}/ready": ModelReadyResponse,
        f"/v2/models/{model}-regions/ready": ModelReadyResponse,
        "/v2": ServerMetadataResponse,
        f"/v2/models/{model}": ModelMetadataResponse,
        f"/v2/models/{model}-regions": ModelMetadataResponse,
    }
    return {
        path: kind.model_validate(httpx.get(base + path).json(), strict=True).model_dump()
        for path, kind in read.items()
    }


async def main(base: str, model: str, feed_path: Path, image_path: Path) -> dict[str, Any]:
    with np.load(feed_path) as archive:
        feed = {name: archive[name] for name in archive.files}
    regions = {
        "image": np.array([image_path.read_bytes()], dtype=object),
        "boxes": np.array([[125, 108, 144, 147], [75, 175, 110, 262]], np.float32),
        "top_k": np.array([2], np.int32),
    }
    async with InferenceRESTClient(RESTConfig(protocol="v2", retries=0)) as client:
        seen: dict[str, Any] = {
            "live": await client.is_server_live(base),
            "ready": await client.is_server_ready(base),
            "model_ready": {
                name: await client.is_model_ready(base, name)
                for name in (model, f"{model}-regions", "no-such-model")
            },
            "bodies": bodies(base, model),
        }
        for binary in (True, False):
            kind = "binary" if binary else "json"
            seen[f"infer {kind}"] = await outputs(client, base, infer_request(model, feed, binary))
            named = infer_request(f"{model}-regions", regions, binary)
            seen[f"regions {kind}"] = await outputs(client, base, named)
    return seen


if __name__ == "__main__":
    base_url, model_name, feed_file, image_file = sys.argv[1:5]
    answer = asyncio.run(main(base_url, model_name, Path(feed_file), Path(image_file)))
    print(json.dumps(answer))
