"""multipart/form-data bodies as clients encode them (httpx, like requests and curl)."""

import httpx
import numpy as np
import pytest

from service.errors import BadRequest
from service.http.form_data import FormPart, parse_form


def encoded(files: dict, data: dict[str, str]) -> tuple[bytes, str]:
    request = httpx.Request("POST", "http://x", files=files, data=data)
    return request.read(), request.headers["content-type"]


def test_parts_come_back_byte_for_byte() -> None:
    # CR, LF, dashes and a near-boundary inside the file: only the real boundary ends it.
    image = np.random.default_rng(0).integers(0, 256, 300_000, np.uint8).tobytes()
    image += b"\r\n--\r\n--not-the-boundary\r\n" + image[:1000]
    body, content_type = encoded(
        {"image": ("scene.png", image)}, {"boxes": "[[1, 2, 3, 4]]", "mode": "boxes"}
    )
    assert parse_form(body, content_type) == {
        "image": FormPart(image, "scene.png"),
        "boxes": FormPart(b"[[1, 2, 3, 4]]", None),
        "mode": FormPart(b"boxes", None),
    }


def test_an_empty_file_is_an_empty_part() -> None:
    body, content_type = encoded({"image": ("x", b"")}, {})
    assert parse_form(body, content_type) == {"image": FormPart(b"", "x")}


@pytest.mark.parametrize(
    ("cut", "content_type", "fragment"),
    [
        (0, "multipart/form-data", "without a boundary"),
        (40, None, "before its closing boundary"),
        (None, "multipart/form-data; boundary=another", "malformed multipart body"),
    ],
    ids=["no boundary", "truncated", "other boundary"],
)
def test_broken_bodies_are_bad_requests(
    cut: int | None, content_type: str | None, fragment: str
) -> None:
    body, sent_type = encoded({"image": ("x", b"\x89PNG" * 100)}, {"top_k": "3"})
    with pytest.raises(BadRequest, match=fragment):
        parse_form(body[: -cut if cut else None], content_type or sent_type)


def test_a_part_without_a_name_is_a_bad_request() -> None:
    body = b'--b\r\nContent-Disposition: form-data; filename="x"\r\n\r\nabc\r\n--b--\r\n'
    with pytest.raises(BadRequest, match="no name"):
        parse_form(body, "multipart/form-data; boundary=b")
