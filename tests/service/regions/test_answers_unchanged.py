"""The README's example requests, in every mode, answer byte for byte what they answered
before the answers were built vectorised (golden/answers.json: each body up to timing_ms,
recorded with the per-region code of service/regions/labels.py and superpixels.py). A change
that means to change answers (segmentation, proposals, the model) records them again:
answers = {name: answer_of(client, name) for name in REQUESTS}, written as JSON."""

import io
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

EXAMPLE = Path(__file__).parents[3] / "models" / "example.png"
GOLDEN = Path(__file__).with_name("golden") / "answers.json"
README_BOXES = "[[125, 108, 144, 147], [75, 175, 110, 262], [186, 192, 225, 271]]"


def example_jpeg() -> bytes:
    out = io.BytesIO()
    Image.open(EXAMPLE).convert("RGB").save(out, format="JPEG", quality=90)
    return out.getvalue()


REQUESTS: dict[str, dict[str, str]] = {
    "boxes": {"boxes": README_BOXES},
    "boxes top_k 2": {"boxes": README_BOXES, "top_k": "2"},
    "proposals": {},
    "superpixels": {"mode": "superpixels"},
    "jpeg boxes": {"boxes": README_BOXES, "jpeg": "1"},
    "jpeg superpixels": {"mode": "superpixels", "jpeg": "1"},
}


def answer_of(client: TestClient, name: str) -> str:
    """The body's bytes (as text) up to its timing_ms, the one field that varies."""
    fields = dict(REQUESTS[name])
    image = example_jpeg() if fields.pop("jpeg", None) else EXAMPLE.read_bytes()
    response = client.post("/classify-regions", files={"image": ("x", image)}, data=fields)
    assert response.status_code == 200, response.text
    body, _ = response.text.split(',"timing_ms":')
    return body


@pytest.mark.parametrize("name", REQUESTS)
def test_answer_is_unchanged(client: TestClient, name: str) -> None:
    expected = json.loads(GOLDEN.read_text())[name]
    assert answer_of(client, name) == expected
