"""service/openapi_example.json: the digits of models/example.png, their boxes, and the
shipped model's answer to POST /classify-regions on them (the OpenAPI document's example).
After the shipped model changes, record the answer again:
`.venv/bin/python -m tests.service.openapi_example`."""

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

ROOT = Path(__file__).parents[2]
RECORD = ROOT / "service" / "openapi_example.json"
EXAMPLE_IMAGE = ROOT / "models" / "example.png"


def answer(client: TestClient, boxes: list[list[float]], top_k: int) -> dict[str, Any]:
    files = {"image": (EXAMPLE_IMAGE.name, EXAMPLE_IMAGE.read_bytes(), "image/png")}
    fields = {"boxes": json.dumps(boxes), "top_k": str(top_k)}
    response = client.post("/classify-regions", files=files, data=fields)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def main() -> None:
    from service.app import create_app
    from service.settings import Settings
    from tests.service.conftest import SHIPPED_MODEL, wait_ready

    record = json.loads(RECORD.read_text())
    with TestClient(create_app(Settings(model_path=SHIPPED_MODEL))) as client:
        wait_ready(client)
        record["response"] = answer(client, record["boxes"], record["top_k"])
    fields = ",\n ".join(f"{json.dumps(key)}: {json.dumps(value)}" for key, value in record.items())
    RECORD.write_text("{\n " + fields + "\n}\n")


if __name__ == "__main__":
    main()
