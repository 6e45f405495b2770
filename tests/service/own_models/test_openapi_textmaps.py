"""/openapi.json for a user's model with an extra input (TextMaps: a screenshot and a text map,
RoI heads only): the text map's fields say its name, dtype, shape and how to send it, and only
the model's modes are listed; real requests and answers validate against the document."""

import base64
import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.region_api.openapi_request import EXTRA_INPUT_KEY
from tests.service.app_serving import serving
from tests.service.conftest import png_bytes
from tests.service.own_models.conftest import ExportZoo, npy

HEIGHT, WIDTH, TEXT_CHANNELS = 48, 64, 4
FORMS = ("multipart/form-data", "application/json")


@pytest.fixture(scope="module")
def client(export_zoo: ExportZoo) -> Iterator[TestClient]:
    with serving(export_zoo("textmaps").onnx) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def entry(client: TestClient) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/openapi.json").json()
    operation: dict[str, Any] = document["paths"]["/classify-regions"]["post"]
    return operation | {"v1_model": document["paths"]["/v1/model"]["get"]}


def check(schema: dict[str, Any], instance: Any) -> None:
    jsonschema.Draft202012Validator(schema).validate(instance)


def test_the_text_map_is_a_required_field_with_its_signature(
    client: TestClient, entry: dict[str, Any]
) -> None:
    [described] = client.get("/v1/model").json()["input"]["extra_inputs"]
    assert (described["name"], described["dtype"]) == ("text_map", "float32")
    content = entry["requestBody"]["content"]
    for form in FORMS:
        schema = content[form]["schema"]
        assert schema["required"] == ["image", "text_map"]
        field = schema["properties"]["text_map"]
        assert field[EXTRA_INPUT_KEY] == described  # name, dtype, shape, follows_image
        says = field["description"]
        assert "'text_map' (required): a NumPy .npy file" in says
        assert f"dtype float32 and shape [1, -1, -1, {TEXT_CHANNELS}]" in says
        assert "ceil(height / 1) x ceil(width / 1)" in says
    multipart = content["multipart/form-data"]
    assert multipart["schema"]["properties"]["text_map"]["format"] == "binary"
    assert (
        "a file part named 'text_map'"
        in multipart["schema"]["properties"]["text_map"]["description"]
    )
    assert multipart["encoding"] == {"text_map": {"contentType": "application/octet-stream"}}
    json_field = content["application/json"]["schema"]["properties"]["text_map"]
    assert json_field["contentEncoding"] == "base64"
    assert "in base64 under 'text_map'" in json_field["description"]
    assert "text_map" in entry["description"]


def test_only_the_models_modes_are_listed(client: TestClient, entry: dict[str, Any]) -> None:
    modes = client.get("/v1/model").json()["input"]["modes"]
    assert modes == ["boxes", "proposals"]  # RoI heads, no superpixel head
    for form in FORMS:
        assert (
            entry["requestBody"]["content"][form]["schema"]["properties"]["mode"]["enum"] == modes
        )
    answer = entry["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer["properties"]["mode"]["enum"] == modes
    model = entry["v1_model"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert model["properties"]["input"]["properties"]["modes"]["items"]["enum"] == modes
    assert "superpixel" not in json.dumps([entry["description"], answer, model])


def test_a_real_request_and_its_answer_validate_against_the_document(
    client: TestClient, entry: dict[str, Any]
) -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    text = np.zeros((1, HEIGHT, WIDTH, TEXT_CHANNELS), np.float32)
    body = {
        "image": base64.b64encode(png_bytes(pixels)).decode(),
        "boxes": [[0, 0, 30, 30]],
        "text_map": base64.b64encode(npy(text)).decode(),
    }
    check(entry["requestBody"]["content"]["application/json"]["schema"], body)
    answer = client.post("/classify-regions", json=body)
    assert answer.status_code == 200, answer.text
    check(entry["responses"]["200"]["content"]["application/json"]["schema"], answer.json())
    model = client.get("/v1/model").json()
    check(entry["v1_model"]["responses"]["200"]["content"]["application/json"]["schema"], model)
    without = {k: v for k, v in body.items() if k != "text_map"}
    with pytest.raises(jsonschema.ValidationError):
        check(entry["requestBody"]["content"]["application/json"]["schema"], without)
    assert client.post("/classify-regions", json=without).status_code == 400
    superpixels = body | {"mode": "superpixels", "boxes": None}
    del superpixels["boxes"]
    with pytest.raises(jsonschema.ValidationError):
        check(entry["requestBody"]["content"]["application/json"]["schema"], superpixels)
    assert client.post("/classify-regions", json=superpixels).status_code == 422
