"""service/region_api/openapi_example.json: the digits of models/example.png, their boxes, and the
shipped model's answer to POST /classify-regions on them; a small JSON request (the image cut
around the 4) and the answer to it. They are the OpenAPI document's examples.
After the shipped model changes, record the answer again:
`.venv/bin/python -m tests.service.region_api.openapi_example`."""

import base64
import io
import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image

ROOT = Path(__file__).parents[3]
RECORD = ROOT / "service" / "region_api" / "openapi_example.json"
EXAMPLE_IMAGE = ROOT / "models" / "example.png"


def answer(client: TestClient, boxes: list[list[float]], top_k: int) -> dict[str, Any]:
    files = {"image": (EXAMPLE_IMAGE.name, EXAMPLE_IMAGE.read_bytes(), "image/png")}
    fields = {"boxes": json.dumps(boxes), "top_k": str(top_k)}
    response = client.post("/classify-regions", files=files, data=fields)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def json_request(boxes: list[list[float]], top_k: int, margin: int = 12) -> dict[str, Any]:
    """A JSON body with models/example.png cut around the first box, and that box in it."""
    x1, y1, x2, y2 = (int(v) for v in boxes[0])
    crop = Image.open(EXAMPLE_IMAGE).crop((x1 - margin, y1 - margin, x2 + margin, y2 + margin))
    encoded = io.BytesIO()
    crop.save(encoded, format="PNG", optimize=True)
    box = [margin, margin, margin + x2 - x1, margin + y2 - y1]
    image = base64.b64encode(encoded.getvalue()).decode()
    return {"image": image, "boxes": [box], "top_k": top_k}


def json_answer(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/classify-regions", json=body)
    assert response.status_code == 200, response.text
    answered: dict[str, Any] = response.json()
    return answered


def main() -> None:
    from service.app import create_app
    from service.settings import Settings
    from tests.service.conftest import SHIPPED_MODEL, wait_ready

    record = json.loads(RECORD.read_text())
    with TestClient(create_app(Settings(model_path=SHIPPED_MODEL))) as client:
        wait_ready(client)
        record["response"] = answer(client, record["boxes"], record["top_k"])
        record["request"] = json_request(record["boxes"], record["top_k"])
        record["request_response"] = json_answer(client, record["request"])
    fields = ",\n ".join(f"{json.dumps(key)}: {json.dumps(value)}" for key, value in record.items())
    RECORD.write_text("{\n " + fields + "\n}\n")


if __name__ == "__main__":
    main()
