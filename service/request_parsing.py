"""HTTP bodies -> RegionRequest: multipart/form-data or JSON, within the byte limits."""

import base64
import binascii
import json
from typing import Any

from fastapi import Request

from service.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from service.form_data import FormPart, parse_form
from service.pipeline import RegionRequest

DEFAULT_TOP_K = 3


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is {declared} bytes; the limit is {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body passes the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def parse_request(request: Request, limit: int) -> RegionRequest:
    header = request.headers.get("content-type", "")
    content_type = header.split(";")[0].strip().lower()
    if content_type not in ("multipart/form-data", "application/json"):
        raise UnsupportedMediaType(
            f"content type {content_type or '(none)'!r}; send multipart/form-data or "
            "application/json"
        )
    body = await read_body(request, limit)
    if content_type == "application/json":
        return _from_json(body)
    return _from_form(parse_form(body, header))


def _from_json(body: bytes) -> RegionRequest:
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BadRequest(f"body is not valid JSON: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("image"), str):
        raise BadRequest("JSON body must be an object with a base64 string 'image'")
    unknown = set(data) - {"image", "boxes", "top_k", "mode"}
    if unknown:
        raise BadRequest(f"unknown fields {sorted(unknown)}")
    try:
        image = base64.b64decode(data["image"], validate=True)
    except (binascii.Error, ValueError) as error:
        raise BadRequest(f"image is not valid base64: {error}") from error
    top_k = data.get("top_k", DEFAULT_TOP_K)
    if not isinstance(top_k, int) or isinstance(top_k, bool):
        raise BadRequest(f"top_k must be an integer, got {top_k!r}")
    mode = data.get("mode")
    if mode is not None and not isinstance(mode, str):
        raise BadRequest(f"mode must be a string, got {mode!r}")
    return RegionRequest(image, data.get("boxes"), top_k, mode)


def _from_form(form: dict[str, FormPart]) -> RegionRequest:
    image = form.get("image")
    if image is None:
        raise BadRequest("multipart field 'image' is missing")
    return RegionRequest(
        image.value,
        _json_field(_text(form, "boxes")),
        _int_field(_text(form, "top_k")),
        _text(form, "mode"),
    )


def _text(form: dict[str, FormPart], name: str) -> str | None:
    part = form.get(name)
    if part is None:
        return None
    if part.filename is not None:
        raise BadRequest(f"field {name!r} must be text, not a file")
    try:
        return part.value.decode()
    except UnicodeDecodeError:
        raise BadRequest(f"field {name!r} is not UTF-8 text") from None


def _json_field(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise BadRequest(f"boxes is not valid JSON: {error}") from error


def _int_field(text: str | None) -> int:
    if text is None:
        return DEFAULT_TOP_K
    try:
        return int(text)
    except ValueError:
        raise BadRequest(f"top_k must be an integer, got {text!r}") from None
