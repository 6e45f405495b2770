"""/openapi.json documents POST /classify-regions as it really answers."""

from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from tests.service.conftest import png_bytes


def classify_regions_entry(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/healthz", "/readyz", "/metrics", "/v1/model"} <= set(paths)
    entry: dict[str, Any] = paths["/classify-regions"]["post"]
    return entry


def test_request_forms_and_modes_are_documented(client: TestClient) -> None:
    body = classify_regions_entry(client)["requestBody"]["content"]
    assert set(body) == {"multipart/form-data", "application/json"}
    modes = client.get("/v1/model").json()["input"]["modes"]
    for form in body.values():
        assert form["schema"]["required"] == ["image"]
        assert form["schema"]["properties"]["mode"]["enum"] == modes
    assert body["multipart/form-data"]["schema"]["properties"]["image"]["format"] == "binary"


def test_documented_response_matches_a_real_answer(client: TestClient) -> None:
    entry = classify_regions_entry(client)
    documented = entry["responses"]["200"]["content"]["application/json"]["schema"]
    region = documented["properties"]["regions"]["items"]
    image = png_bytes(np.full((64, 80, 3), 200, np.uint8))
    for mode, boxes in (("boxes", "[[4, 4, 40, 40]]"), ("superpixels", None)):
        data = {"mode": mode} | ({"boxes": boxes} if boxes else {})
        answer = client.post("/classify-regions", files={"image": ("x.png", image)}, data=data)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body) == set(documented["properties"])
        assert body["regions"]
        for found in body["regions"]:
            assert set(region["required"]) <= set(found) <= set(region["properties"])


def test_documented_errors_are_problem_json(client: TestClient) -> None:
    responses = classify_regions_entry(client)["responses"]
    answer = client.post("/classify-regions", content=b"x", headers={"content-type": "text/plain"})
    assert str(answer.status_code) in responses
    problem = responses[str(answer.status_code)]["content"]["application/problem+json"]["schema"]
    assert set(answer.json()) == set(problem["properties"])


def test_swagger_ui_is_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
