"""Every bad input gets its exact 4xx problem+json, and the server stays ready."""

import io
import json
import struct
import zlib

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from tests.service.conftest import png_bytes

GOOD = png_bytes(np.full((64, 64, 3), 200, np.uint8))
DEEP = "[" * 60_000 + "]" * 60_000  # within MAX_JSON_VALUES: json.loads sees it


def assert_problem(response: httpx.Response, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail"} and body["status"] == status
    assert fragment in body["detail"], body["detail"]


def post(client: TestClient, image: bytes = GOOD, **fields: str) -> httpx.Response:
    return client.post("/classify-regions", files={"image": ("x", image)}, data=fields)


def huge_png_header() -> bytes:
    """A tiny PNG whose header claims 40000x40000 pixels: a decompression bomb's shape."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", 40000, 40000, 8, 2, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + idat + chunk(b"IEND", b"")


def truncated_jpeg() -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(
        out, format="JPEG"
    )
    return out.getvalue()[:400]


CASES = [
    ("empty file", dict(image=b""), 400, "image is empty"),
    ("not an image", dict(image=b"hello, world"), 400, "not a readable"),
    ("truncated jpeg", dict(image=truncated_jpeg()), 400, "could not be decoded"),
    ("png claims 40000x40000", dict(image=huge_png_header()), 413, "pixels"),
    ("boxes not json", dict(boxes="[[1, 2"), 400, "boxes is not valid JSON"),
    ("boxes wrong shape", dict(boxes="[[1, 2, 3]]"), 400, "boxes must be"),
    ("boxes empty", dict(boxes="[]"), 422, "boxes is empty"),
    ("inverted box", dict(boxes="[[30, 5, 10, 40]]"), 422, "x2 > x1"),
    ("non-finite box", dict(boxes="[[0, 0, NaN, 10]]"), 422, "non-finite"),
    ("infinite box", dict(boxes="[[0, 0, Infinity, 10]]"), 422, "non-finite"),
    ("box outside", dict(boxes="[[100, 100, 120, 130]]"), 422, "entirely outside"),
    ("too many boxes", dict(boxes=json.dumps([[0, 0, 5, 5]] * 65)), 413, "limit is 64"),
    ("top_k not int", dict(top_k="many"), 400, "top_k must be an integer"),
    ("top_k zero", dict(top_k="0"), 422, "top_k must be between"),
    ("top_k huge", dict(top_k="1000"), 422, "top_k must be between"),
    ("unknown mode", dict(mode="everything"), 422, "mode must be one of"),
    ("boxes mode without boxes", dict(mode="boxes"), 422, "needs boxes"),
    ("boxes with superpixels", dict(mode="superpixels", boxes="[[0,0,5,5]]"), 422, "only used"),
    ("boxes nested 60000 deep", dict(boxes=DEEP), 400, "boxes is JSON nested too deep"),
    ("box of 10**400", dict(boxes=f"[[0, 0, 1{'0' * 400}, 5]]"), 422, "coordinate is too large"),
    ("box of 5000 digits", dict(boxes=f"[[0, 0, 1{'0' * 5000}, 5]]"), 400, "limit (4300 digits)"),
    ("top_k of 5000 digits", dict(top_k="1" * 5000), 400, "top_k must be an integer, got a str"),
    ("mode of 100 characters", dict(mode="m" * 100), 422, "got 100 characters"),
]


@pytest.mark.parametrize(("name", "fields", "status", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_bad_multipart_input(
    client: TestClient, name: str, fields: dict, status: int, fragment: str
) -> None:
    image = fields.pop("image", GOOD)
    assert_problem(post(client, image, **fields), status, fragment)
    assert client.get("/readyz").status_code == 200


def test_wrong_content_type(client: TestClient) -> None:
    response = client.post("/classify-regions", content=GOOD, headers={"content-type": "image/png"})
    assert_problem(response, 415, "multipart/form-data or application/json")


@pytest.mark.parametrize(
    ("files", "fragment"),
    [
        ({"picture": ("x", GOOD)}, "field 'image' is missing"),
        ({"image": ("x", GOOD), "boxes": ("boxes.json", b"[[0, 0, 5, 5]]")}, "must be text"),
        ({"image": ("x", GOOD), "mode": (None, b"\xff\xfe")}, "not UTF-8"),
        ([("image", ("a", GOOD)), ("image", ("b", GOOD))], "'image' is sent more than once"),
        ([(f"f{i}", (None, b"x")) for i in range(40_000)], "more than 32 parts"),
    ],
    ids=["no image", "boxes as a file", "mode not utf-8", "two images", "40000 fields"],
)
def test_bad_multipart_fields(client: TestClient, files: dict | list, fragment: str) -> None:
    assert_problem(client.post("/classify-regions", files=files), 400, fragment)


def test_truncated_multipart_body(client: TestClient) -> None:
    body = httpx.Request("POST", "http://x", files={"image": ("x", GOOD)})
    response = client.post(
        "/classify-regions",
        content=body.read()[:-30],
        headers={"content-type": body.headers["content-type"]},
    )
    assert_problem(response, 400, "closing boundary")


def test_oversized_body(client: TestClient) -> None:
    assert_problem(post(client, b"\0" * (4 * 2**20 + 1)), 413, "limit")


def test_unsupported_image_format(client: TestClient) -> None:
    out = io.BytesIO()
    Image.new("RGB", (16, 16)).save(out, format="ICO")
    assert_problem(post(client, out.getvalue()), 415, "ICO is not supported")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"image": 5}', "base64 string"),
        (b'{"image": "!!!"}', "not valid base64"),
        (b'{"image": "", "extra": 1}', "unknown fields"),
        (b'{"image": ' + DEEP.encode() + b"}", "body is JSON nested too deep"),
        (b'{"image": "", "top_k": 1' + b"0" * 5000 + b"}", "limit (4300 digits)"),
        (b'{"image": "", "top_k": [1, 2]}', "top_k must be an integer, got a list"),
    ],
)
def test_bad_json_body(client: TestClient, body: bytes, fragment: str) -> None:
    response = client.post(
        "/classify-regions", content=body, headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, fragment)


def test_framework_errors_are_problems_too(client: TestClient) -> None:
    assert_problem(client.get("/no-such-route"), 404, "Not Found")
    not_allowed = client.get("/classify-regions")
    assert_problem(not_allowed, 405, "Method Not Allowed")
    assert not_allowed.headers["allow"] == "POST"
    assert client.post("/healthz").headers["allow"] == "GET"
