"""The V2 health routes before the model is ready: the protocol's 4xx for false, with its
JSON objects (KServe's client reads them; Triton's reads the status alone)."""

import jsonschema
import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tests.service.conftest import SHIPPED_MODEL
from tests.service.v2 import protocol_schemas as schemas


def test_before_the_model_is_loaded_the_server_is_live_and_not_ready() -> None:
    app = create_app(Settings(model_path=SHIPPED_MODEL))
    client = TestClient(app)  # not entered: no lifespan, no model
    live, ready = client.get("/v2/health/live"), client.get("/v2/health/ready")
    assert (live.status_code, live.json()) == (200, {"live": True})
    assert (ready.status_code, ready.json()) == (400, {"ready": False})
    jsonschema.validate(ready.json(), schemas.READY_SERVER)
    model = client.get("/v2/models/anything/ready")  # no model to name yet
    assert (model.status_code, model.json()) == (503, {"error": "the model is not loaded"})
    assert model.headers["retry-after"] == "5"


def test_while_the_model_warms_up_server_and_models_are_not_ready(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = client.get("/v1/model").json()["name"]
    monkeypatch.setattr(client.app.state.runtime, "ready", False)  # type: ignore[attr-defined]
    ready = client.get("/v2/health/ready")
    assert (ready.status_code, ready.json()) == (400, {"ready": False})
    for model in (name, f"{name}-regions"):
        answer = client.get(f"/v2/models/{model}/ready")
        assert (answer.status_code, answer.json()) == (400, {"name": model, "ready": False})
        jsonschema.validate(answer.json(), schemas.READY_MODEL)
    assert client.get("/v2/health/live").json() == {"live": True}
