"""HTTP bodies -> RegionRequest: multipart/form-data or JSON, within the byte limits.

Bodies past `INLINE_PARSE_BYTES` are parsed in a worker thread: a megabyte of JSON numbers
takes ~80 ms to parse, which would stall every other request and probe on the event loop.
JSON (the body, the `boxes` field) is refused past `MAX_JSON_VALUES` before it is parsed.
"""

import base64
import binascii
import json
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from service.errors import BadRequest, InvalidValue, UnsupportedMediaType
from service.http.body import read_body
from service.http.form_data import FormPart, parse_form
from service.http.json_values import check_json_values
from service.regions.request import DEFAULT_TOP_K, RegionRequest

INLINE_PARSE_BYTES = 256 * 2**10
MAX_ECHOED_CHARS = 32  # a client value longer than this is named by its type, not echoed
# A request's JSON holds a few fields and its boxes (5 values each): 2**16 covers 13,000
# boxes, far past max_boxes, while 2**16 empty lists cost 4 MiB.
MAX_JSON_VALUES = 2**16


async def parse_request(
    request: Request, limit: int, extra_names: frozenset[str] = frozenset()
) -> RegionRequest:
    """`extra_names`: the model's extra inputs, taken as .npy parts or base64 JSON fields."""
    header = request.headers.get("content-type", "")
    content_type = header.split(";")[0].strip().lower()
    if content_type not in ("multipart/form-data", "application/json"):
        raise UnsupportedMediaType(
            f"content type {content_type or '(none)'!r}; send multipart/form-data or "
            "application/json"
        )
    body = await read_body(request, limit)
    if len(body) > INLINE_PARSE_BYTES:
        return await run_in_threadpool(parse_body, body, header, extra_names)
    return parse_body(body, header, extra_names)


def parse_body(
    body: bytes, content_type: str, extra_names: frozenset[str] = frozenset()
) -> RegionRequest:
    if content_type.split(";")[0].strip().lower() == "application/json":
        return _from_json(body, extra_names)
    return _from_form(parse_form(body, content_type), extra_names)


def _loads(text: str | bytes, what: str) -> Any:
    """JSON, with every way it can fail a 400 naming `what`."""
    check_json_values(text, MAX_JSON_VALUES, what)
    try:
        return json.loads(text)
    except RecursionError:
        raise BadRequest(f"{what} is JSON nested too deep") from None
    except (ValueError, UnicodeDecodeError) as error:  # ValueError: an int past 4300 digits
        raise BadRequest(f"{what} is not valid JSON: {error}") from error


def _from_json(body: bytes, extra_names: frozenset[str]) -> RegionRequest:
    data = _loads(body, "body")
    if not isinstance(data, dict) or not isinstance(data.get("image"), str):
        raise BadRequest("JSON body must be an object with a base64 string 'image'")
    unknown = set(data) - {"image", "boxes", "top_k", "mode"} - extra_names
    if unknown:
        raise BadRequest(f"unknown fields {sorted(unknown)}")
    try:
        image = base64.b64decode(data["image"], validate=True)
    except (binascii.Error, ValueError) as error:
        raise BadRequest(f"image is not valid base64: {error}") from error
    top_k = data.get("top_k", DEFAULT_TOP_K)
    if not isinstance(top_k, int) or isinstance(top_k, bool):
        raise BadRequest(f"top_k must be an integer, got {_kind(top_k)}")
    mode = data.get("mode")
    if mode is not None and not isinstance(mode, str):
        raise BadRequest(f"mode must be a string, got {_kind(mode)}")
    extras = {name: data[name] for name in extra_names if name in data}
    return RegionRequest(image, data.get("boxes"), top_k, _checked_mode(mode), extras)


def _kind(value: Any) -> str:
    """A client's value for an error message: short ones as they are, others by type."""
    shown = repr(value) if isinstance(value, int | float | str | None) else ""
    return shown if 0 < len(shown) <= MAX_ECHOED_CHARS else f"a {type(value).__name__}"


def _checked_mode(mode: str | None) -> str | None:
    if mode is not None and len(mode) > MAX_ECHOED_CHARS:
        raise InvalidValue(f"mode must be a mode name, got {len(mode)} characters")
    return mode


def _from_form(form: dict[str, FormPart], extra_names: frozenset[str]) -> RegionRequest:
    image = form.get("image")
    if image is None:
        raise BadRequest("multipart field 'image' is missing")
    return RegionRequest(
        image.value,
        _json_field(_text(form, "boxes", MAX_JSON_VALUES)),
        _int_field(_text(form, "top_k")),
        _checked_mode(_text(form, "mode")),
        {name: form[name].value for name in extra_names if name in form},
    )


def _text(form: dict[str, FormPart], name: str, max_values: int | None = None) -> str | None:
    """A text field; with `max_values`, JSON refused by its size before it is decoded."""
    part = form.get(name)
    if part is None:
        return None
    if max_values is not None:
        check_json_values(part.value, max_values, name)
    if part.filename is not None:
        raise BadRequest(f"field {name!r} must be text, not a file")
    try:
        return part.value.decode()
    except UnicodeDecodeError:
        raise BadRequest(f"field {name!r} is not UTF-8 text") from None


def _json_field(text: str | None) -> Any:
    return None if text is None else _loads(text, "boxes")


def _int_field(text: str | None) -> int:
    if text is None:
        return DEFAULT_TOP_K
    try:
        return int(text)
    except ValueError:
        raise BadRequest(f"top_k must be an integer, got {_kind(text)}") from None
