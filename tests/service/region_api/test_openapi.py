"""/openapi.json documents every route as it really answers: real answers validate against
the documented schemas, bounds are those the server applies, examples are the served model's."""

import base64
import json
from typing import Any

import jsonschema
import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.region_api.openapi_schemas import mode_schema
from tests.service.conftest import png_bytes
from tests.service.region_api.openapi_example import EXAMPLE_IMAGE, RECORD, answer, json_answer

ROUTES = {
    ("/classify-regions", "post"),
    ("/healthz", "get"),
    ("/readyz", "get"),
    ("/metrics", "get"),
    ("/v1/model", "get"),
}


def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    schema: dict[str, Any] = response.json()
    return schema


def operation(client: TestClient, path: str, method: str = "get") -> dict[str, Any]:
    entry: dict[str, Any] = document(client)["paths"][path][method]
    return entry


def check(schema: dict[str, Any], instance: Any) -> None:
    jsonschema.Draft202012Validator(schema).validate(instance)


def body_schema(client: TestClient, form: str) -> dict[str, Any]:
    content = operation(client, "/classify-regions", "post")["requestBody"]["content"]
    schema: dict[str, Any] = content[form]["schema"]
    return schema


def test_every_route_is_tagged_summarised_and_has_its_errors(client: TestClient) -> None:
    schema = document(client)
    found = {(path, method) for path, ops in schema["paths"].items() for method in ops}
    assert found == ROUTES
    tags = {tag["name"] for tag in schema["tags"]}
    for path, method in ROUTES:
        entry = schema["paths"][path][method]
        assert entry["tags"] and set(entry["tags"]) <= tags, path
        assert len(entry["summary"].split()) >= 3, path  # not FastAPI's "Readyz"
        assert "503" in entry["responses"], path
        unavailable = entry["responses"]["503"]
        assert "Retry-After" in unavailable["headers"]
        check(unavailable["content"]["application/problem+json"]["schema"], client_problem())


def client_problem() -> dict[str, Any]:
    return {"type": "about:blank", "title": "Model not ready", "status": 503, "detail": "x"}


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/v1/model"])
def test_json_answers_match_their_schema_and_example(client: TestClient, path: str) -> None:
    documented = operation(client, path)["responses"]["200"]["content"]["application/json"]
    real = client.get(path).json()
    check(documented["schema"], real)
    assert documented["example"] == real  # the model served, as it describes itself


def test_metrics_are_documented_as_text(client: TestClient) -> None:
    content = operation(client, "/metrics")["responses"]["200"]["content"]
    [media_type] = content
    real = client.get("/metrics")
    assert real.headers["content-type"] == media_type
    assert "regionserve_requests_total" in real.text


def test_request_forms_and_modes_are_documented(client: TestClient) -> None:
    modes = client.get("/v1/model").json()["input"]["modes"]
    for form in ("multipart/form-data", "application/json"):
        schema = body_schema(client, form)
        assert schema["required"] == ["image"]
        assert schema["properties"]["mode"]["enum"] == modes
    assert body_schema(client, "multipart/form-data")["properties"]["image"]["format"] == "binary"


def test_top_k_bounds_are_the_ones_the_server_applies(client: TestClient) -> None:
    top_k = body_schema(client, "application/json")["properties"]["top_k"]
    classes = len(client.get("/v1/model").json()["classes"])
    assert (top_k["minimum"], top_k["maximum"]) == (1, classes)  # below the setting's 20
    image = base64.b64encode(png_bytes(np.full((32, 32, 3), 90, np.uint8))).decode()
    for value, status in ((top_k["maximum"], 200), (top_k["maximum"] + 1, 422), (0, 422)):
        body = {"image": image, "boxes": [[2, 2, 30, 30]], "top_k": value}
        assert client.post("/classify-regions", json=body).status_code == status, value


def test_json_body_schema_accepts_what_the_server_accepts(client: TestClient) -> None:
    schema = body_schema(client, "application/json")
    image = base64.b64encode(EXAMPLE_IMAGE.read_bytes()).decode()
    good = {"image": image, "boxes": [[125, 108, 144, 147]], "top_k": 2, "mode": "boxes"}
    check(schema, good)
    assert client.post("/classify-regions", json=good).status_code == 200
    for bad in ({"image": ""}, {"image": image[:-1]}, {"image": "a b="}, {"image": image, "x": 1}):
        with pytest.raises(jsonschema.ValidationError):
            check(schema, bad)
        assert client.post("/classify-regions", json=bad).status_code == 400, bad


def test_documented_answers_match_real_ones(client: TestClient) -> None:
    documented = operation(client, "/classify-regions", "post")["responses"]["200"]
    schema = documented["content"]["application/json"]["schema"]
    image = png_bytes(np.full((64, 80, 3), 200, np.uint8))
    for fields in ({"boxes": "[[4, 4, 40, 40]]"}, {"mode": "superpixels"}, {"mode": "proposals"}):
        real = client.post("/classify-regions", files={"image": ("x.png", image)}, data=fields)
        assert real.status_code == 200, real.text
        check(schema, real.json())


def test_the_examples_are_the_shipped_models_answers(client: TestClient) -> None:
    record = json.loads(RECORD.read_text())
    entry = operation(client, "/classify-regions", "post")
    request = entry["requestBody"]["content"]["application/json"]
    answers = entry["responses"]["200"]["content"]["application/json"]
    served = client.get("/v1/model").json()
    if record["response"]["model"] == {"name": served["name"], "version": served["version"]}:
        # If not, record them again: python -m tests.service.region_api.openapi_example
        real = answer(client, record["boxes"], record["top_k"])
        assert answers["examples"]["example.png"]["value"]["regions"] == real["regions"]
        assert [r["label"] for r in real["regions"]] == record["digits"]
        check(body_schema(client, "application/json"), request["example"])
        real = json_answer(client, request["example"])  # what Swagger UI's "Try it out" sends
        assert answers["examples"]["request example"]["value"]["regions"] == real["regions"]
        assert [r["label"] for r in real["regions"]] == record["digits"][:1]
    else:  # a model not recorded: no examples rather than another model's
        assert "examples" not in answers and "example" not in request


def test_documented_errors_are_problem_json(client: TestClient) -> None:
    responses = operation(client, "/classify-regions", "post")["responses"]
    answer_ = client.post("/classify-regions", content=b"x", headers={"content-type": "text/plain"})
    problem = responses[str(answer_.status_code)]["content"]["application/problem+json"]
    check(problem["schema"], answer_.json())


def test_the_modes_are_the_models_in_requests_answers_and_the_model_route(
    client: TestClient,
) -> None:
    modes = client.get("/v1/model").json()["input"]["modes"]
    assert modes == ["boxes", "proposals", "superpixels"]  # the shipped model has every head
    answer = operation(client, "/classify-regions", "post")["responses"]["200"]
    assert answer["content"]["application/json"]["schema"]["properties"]["mode"]["enum"] == modes
    model = operation(client, "/v1/model")["responses"]["200"]["content"]["application/json"]
    assert model["schema"]["properties"]["input"]["properties"]["modes"]["items"]["enum"] == modes
    for mode in modes:
        assert f"{mode}: one" in operation(client, "/classify-regions", "post")["description"]


def test_without_extra_inputs_only_the_image_is_required(client: TestClient) -> None:
    assert client.get("/v1/model").json()["input"]["extra_inputs"] == []
    for form in ("multipart/form-data", "application/json"):
        schema = body_schema(client, form)
        assert schema["required"] == ["image"]
        assert set(schema["properties"]) == {"image", "boxes", "top_k", "mode"}
    content = operation(client, "/classify-regions", "post")["requestBody"]["content"]
    assert "encoding" not in content["multipart/form-data"]


@pytest.mark.parametrize(
    ("modes", "default"),
    [
        (("boxes", "proposals", "superpixels"), "'boxes' when boxes are given, else 'proposals'"),
        (("boxes", "proposals"), "'boxes' when boxes are given, else 'proposals'"),
        (("superpixels",), "superpixels"),
    ],
)
def test_a_mode_schema_gives_the_default_the_pipeline_picks(
    modes: tuple[str, ...], default: str
) -> None:
    schema = mode_schema(modes)
    assert schema["enum"] == list(modes)
    assert schema["description"].startswith(f"default: {default}; ")
