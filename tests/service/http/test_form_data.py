"""multipart/form-data bodies as clients encode them (httpx, like requests and curl)."""

import httpx
import numpy as np
import pytest

from service.errors import BadRequest
from service.http import form_data
from service.http.form_data import MAX_PARTS, FormPart, parse_form
from service.http.plain_multipart import split_plain


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


def outcome(body: bytes, content_type: str) -> dict[str, FormPart] | str:
    try:
        return parse_form(body, content_type)
    except BadRequest as error:
        return f"BadRequest: {error.detail}"


def plain_and_parsed(
    body: bytes, content_type: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, FormPart] | str, dict[str, FormPart] | str]:
    """What parse_form answers, and what python-multipart alone answers."""
    fast = outcome(body, content_type)
    with monkeypatch.context() as patch:
        patch.setattr(form_data, "split_plain", lambda *args: None)
        return fast, outcome(body, content_type)


def handwritten(*parts: bytes, epilogue: bytes = b"\r\n") -> bytes:
    return b"".join(b"--b\r\n" + p + b"\r\n" for p in parts)[:-2] + b"\r\n--b--" + epilogue


FIELD = b'Content-Disposition: form-data; name="top_k"\r\n\r\n3'
IMAGE = b'Content-Disposition: form-data; name="image"; filename="x.png"\r\n\r\n\x89PNG\r\n'


@pytest.mark.parametrize(
    ("body", "plain"),
    [
        (handwritten(FIELD, IMAGE), True),
        (handwritten(FIELD, IMAGE, epilogue=b""), True),
        (handwritten(FIELD, IMAGE, epilogue=b"\r\nan epilogue"), True),
        (b"\r\n" + handwritten(FIELD), False),  # blank lines before the first boundary
        (handwritten(FIELD).replace(b"\r\n", b"\n"), False),  # LF alone
        (handwritten(b'content-disposition:    form-data; name="a"\r\n\r\n1'), True),
        (handwritten(b'Content-Disposition:\tform-data; name="a"\r\n\r\n1'), True),
        (handwritten(b'Content-Disposition: form-data; name="a"\r\nX-Pad: \r\n\r\n'), True),
        (handwritten(b"\r\nno headers"), False),
        (handwritten(b'Bad Name: x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1'), False),
        (handwritten(b'Content-Disposition: form-data; name="a"\rX: y\r\n\r\n1'), False),
        (handwritten(FIELD, FIELD), True),  # the same name twice
        (handwritten(b'Content-Disposition: form-data; filename="x"\r\n\r\n1'), True),
        (
            handwritten(b"X-A: 1\r\n" * 8 + b'Content-Disposition: form-data; name="a"\r\n\r\n'),
            False,
        ),
        (
            handwritten(b"X-A: 1\r\n" * 7 + b'Content-Disposition: form-data; name="a"\r\n\r\n'),
            True,
        ),
        (
            handwritten(
                b"X: " + b"y" * 5000 + b'\r\nContent-Disposition: form-data; name="a"\r\n\r\n'
            ),
            False,
        ),
        (handwritten(*(FIELD.replace(b"top_k", b"f%d" % n) for n in range(33))), False),
        (handwritten(*(FIELD.replace(b"top_k", b"f%d" % n) for n in range(32))), True),
        (handwritten(FIELD, IMAGE).replace(b"\r\n--b\r\nContent", b"\r\n--b  \r\nContent"), False),
        (handwritten(FIELD, IMAGE).replace(b"\r\n--b\r\nContent", b"\r\n--bb\r\nContent"), False),
        (handwritten(FIELD).replace(b"--b--", b"--b-"), False),
        (handwritten(b'Content-Disposition: form-data; name="caf\xc3\xa9"\r\n\r\n'), True),
    ],
)
def test_plain_splitting_answers_as_python_multipart(
    body: bytes, plain: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`plain`: the body is in the plain form, so the fast path is the one that answers."""
    assert (split_plain(body, b"b", MAX_PARTS) is not None) == plain
    fast, parsed = plain_and_parsed(body, "multipart/form-data; boundary=b", monkeypatch)
    assert fast == parsed


def test_client_bodies_are_split_plainly_and_every_mutation_answers_alike(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body, content_type = encoded(
        {"image": ("scene.png", b"\x89PNG\r\n" * 40)}, {"boxes": "[[1, 2, 3, 4]]", "top_k": "3"}
    )
    boundary = content_type.split("boundary=")[1].encode()
    assert split_plain(body, boundary, MAX_PARTS) is not None  # the fast path is the one taken
    rng = np.random.default_rng(29)
    structure = [i for i, byte in enumerate(body) if byte in b'\r\n-:; ="' or i < 40]
    for _ in range(400):  # a byte of the framing replaced, dropped or doubled
        at = int(rng.choice(structure))
        change = rng.integers(3)
        if change == 0:
            mutated = body[:at] + bytes([rng.choice(list(b'\r\n- :;ab"'))]) + body[at + 1 :]
        elif change == 1:
            mutated = body[:at] + body[at + 1 :]
        else:
            mutated = body[: at + 1] + body[at:]
        fast, parsed = plain_and_parsed(mutated, content_type, monkeypatch)
        assert fast == parsed, mutated
    for cut in range(0, len(body), 7):
        fast, parsed = plain_and_parsed(body[:cut], content_type, monkeypatch)
        assert fast == parsed, cut
