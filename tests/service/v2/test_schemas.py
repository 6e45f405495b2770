"""Every kind of V2 answer, over plain HTTP, checked against the protocol's JSON objects."""

import json
import math
from typing import Any

import httpx
import jsonschema
import numpy as np
import onnxruntime as ort
import pytest

from tests.service.conftest import png_bytes
from tests.service.v2 import protocol_schemas as schemas
from tests.service.v2.conftest import Served, model_feed

DATATYPES = {np.dtype(np.uint8): "UINT8", np.dtype(np.float32): "FP32", np.dtype(np.int32): "INT32"}
HEADER_LENGTH = "Inference-Header-Content-Length"


def json_input(name: str, array: np.ndarray) -> dict[str, Any]:
    datatype = DATATYPES[array.dtype]
    return {"name": name, "shape": list(array.shape), "datatype": datatype, "data": array.tolist()}


def binary_body(
    described: list[dict[str, Any]], data: list[bytes], **request: Any
) -> tuple[bytes, dict[str, str]]:
    """The JSON object, then each input's bytes (binary tensor data extension)."""
    for tensor, chunk in zip(described, data, strict=True):
        tensor["parameters"] = {"binary_data_size": len(chunk)}
    header = json.dumps({"inputs": described, **request}).encode()
    return header + b"".join(data), {HEADER_LENGTH: str(len(header))}


def feed_body(feed: dict[str, np.ndarray], **request: Any) -> tuple[bytes, dict[str, str]]:
    described = [
        {"name": n, "shape": list(a.shape), "datatype": DATATYPES[a.dtype]} for n, a in feed.items()
    ]
    return binary_body(described, [a.tobytes() for a in feed.values()], **request)


def check_inference_response(response: httpx.Response) -> dict[str, Any]:
    """The JSON object, and the binary data after it sized as its outputs say."""
    assert response.status_code == 200, response.text
    length = int(response.headers.get(HEADER_LENGTH, len(response.content)))
    header = json.loads(response.content[:length])
    jsonschema.validate(header, schemas.INFERENCE_RESPONSE)
    sizes = [o.get("parameters", {}).get("binary_data_size", 0) for o in header["outputs"]]
    assert sum(sizes) == len(response.content) - length
    for output in header["outputs"]:
        if "data" in output:
            assert len(output["data"]) == math.prod(output["shape"])
    return dict(header)


def check_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    jsonschema.validate(response.json(), schemas.ERROR)
    return str(response.json()["error"])


def test_health_answers_are_the_protocols_objects(served: Served) -> None:
    regions = f"{served.model}-regions"
    answers = {
        "/v2/health/live": (schemas.LIVE_SERVER, {"live": True}),
        "/v2/health/ready": (schemas.READY_SERVER, {"ready": True}),
        f"/v2/models/{served.model}/ready": (
            schemas.READY_MODEL, {"name": served.model, "ready": True}
        ),
        f"/v2/models/{regions}/versions/{served.version}/ready": (
            schemas.READY_MODEL, {"name": regions, "ready": True}
        ),
    }  # fmt: skip
    for path, (schema, body) in answers.items():
        response = httpx.get(served.base + path)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == "application/json"
        jsonschema.validate(response.json(), schema)
        assert response.json() == body, path


def test_server_and_model_metadata(served: Served) -> None:
    jsonschema.validate(httpx.get(f"{served.base}/v2").json(), schemas.SERVER_METADATA)
    for name in (served.model, f"{served.model}-regions"):
        for path in (f"/v2/models/{name}", f"/v2/models/{name}/versions/{served.version}"):
            response = httpx.get(served.base + path)
            assert response.status_code == 200
            jsonschema.validate(response.json(), schemas.MODEL_METADATA)


def test_json_inference_response(served: Served, session: ort.InferenceSession) -> None:
    feed = model_feed(session, 2, seed=1)
    request = {"id": "42", "inputs": [json_input(n, a) for n, a in feed.items()]}
    url = f"{served.base}/v2/models/{served.model}/infer"
    header = check_inference_response(httpx.post(url, json=request, timeout=30))
    assert header["id"] == "42"
    assert all("data" in o for o in header["outputs"])


def test_binary_inference_response_with_one_output_as_json(
    served: Served, session: ort.InferenceSession
) -> None:
    first, second = (o.name for o in session.get_outputs()[:2])
    outputs = [{"name": first, "parameters": {"binary_data": True}}, {"name": second}]
    body, headers = feed_body(model_feed(session, 1, seed=2), outputs=outputs)
    url = f"{served.base}/v2/models/{served.model}/versions/{served.version}/infer"
    header = check_inference_response(httpx.post(url, content=body, headers=headers, timeout=30))
    assert [o["name"] for o in header["outputs"]] == [first, second]
    assert "data" not in header["outputs"][0] and "data" in header["outputs"][1]


def test_regions_inference_response(served: Served) -> None:
    image = png_bytes(np.full((48, 64, 3), 90, np.uint8))
    described = [{"name": "image", "shape": [1], "datatype": "BYTES"}]
    element = len(image).to_bytes(4, "little") + image  # BYTES: 4-byte length, then the bytes
    body, headers = binary_body(described, [element], parameters={"binary_data_output": True})
    url = f"{served.base}/v2/models/{served.model}-regions/infer"
    check_inference_response(httpx.post(url, content=body, headers=headers, timeout=30))


@pytest.mark.parametrize(
    ("method", "path", "status", "says"),
    [
        ("GET", "/v2/models/no-such-model", 404, "unknown model 'no-such-model'"),
        ("GET", "/v2/models/{model}/versions/0/ready", 404, "has version"),
        ("POST", "/v2/models/no-such-model/infer", 404, "unknown model 'no-such-model'"),
        ("GET", "/v2/no-such-route", 404, "Not Found: GET /v2/no-such-route"),
        ("POST", "/v2/health/live", 405, "Method Not Allowed: POST /v2/health/live"),
        ("GET", "/v2/models/{model}/infer", 405, "Method Not Allowed"),
    ],
)
def test_routing_errors(served: Served, method: str, path: str, status: int, says: str) -> None:
    response = httpx.request(method, served.base + path.format(model=served.model))
    assert says in check_error(response, status)


def test_input_errors_name_the_tensor(served: Served, session: ort.InferenceSession) -> None:
    url = f"{served.base}/v2/models/{served.model}/infer"
    feed = model_feed(session, 1, seed=3)
    name, array = next(iter(feed.items()))
    body, headers = feed_body(feed)
    short = int(headers[HEADER_LENGTH])
    cut = body[:short].replace(b'"binary_data_size": %d' % array.nbytes, b'"binary_data_size": 3')
    headers[HEADER_LENGTH] = str(len(cut))
    sized = check_error(httpx.post(url, content=cut + body[short:], headers=headers), 400)
    assert sized == f"input {name!r}: 3 bytes of binary data, but shape {list(array.shape)} " + (
        f"of UINT8 takes {array.nbytes}"
    )
    missing = {"inputs": [json_input(name, array)]}
    assert check_error(httpx.post(url, json=missing), 400).startswith("missing inputs [")
    garbled = httpx.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert check_error(garbled, 400).startswith("inference request: ")
    zipped = httpx.post(url, content=b"{}", headers={"content-encoding": "br"})
    assert "Content-Encoding 'br'" in check_error(zipped, 415)
