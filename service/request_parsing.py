"""HTTP bodies -> RegionRequest: multipart/form-data or JSON, within the byte limits."""

import base64
import binascii
import json
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from service.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
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
    body = b"".join(chunks)
    request._body = body  # Starlette's form parser reads the cached body
    return body


async def parse_request(request: Request, limit: int) -> RegionRequest:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("multipart/form-data", "application/json"):
        raise UnsupportedMediaType(
            f"content type {content_type or '(none)'!r}; send multipart/form-data or "
            "application/json"
        )
    body = await read_body(request, limit)
    if content_type == "application/json":
        return _from_json(body)
    return await _from_form(request)


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


async def _from_form(request: Request) -> RegionRequest:
    form = await request.form()
    upload = form.get("image")
    if not isinstance(upload, UploadFile):
        raise BadRequest("multipart field 'image' must be a file")
    image = await upload.read()
    return RegionRequest(
        image, _json_field(form.get("boxes")), _int_field(form.get("top_k")), _str(form.get("mode"))
    )


def _json_field(value: Any) -> Any:
    if value is None:
        return None
    try:
        return json.loads(_str(value) or "")
    except json.JSONDecodeError as error:
        raise BadRequest(f"boxes is not valid JSON: {error}") from error


def _int_field(value: Any) -> int:
    if value is None:
        return DEFAULT_TOP_K
    text = _str(value) or ""
    try:
        return int(text)
    except ValueError:
        raise BadRequest(f"top_k must be an integer, got {text!r}") from None


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, UploadFile):
        raise BadRequest(f"field {value.filename!r} must be text, not a file")
    return str(value)
