"""POST /classify-regions' request body in /openapi.json, for the model served: its modes, its
top_k bound and its extra inputs (name, dtype, shape, how to send them); any model's fields
before one is ready."""

from typing import Any

from service.inference.model_inputs import ExtraInput
from service.region_api.openapi_schemas import BASE64_PATTERN, BOX, MODE, Schema, mode_schema
from service.regions.request import DEFAULT_TOP_K
from service.runtime import ModelRuntime
from service.settings import Settings

EXTRA_INPUT_KEY = "x-regionserve-extra-input"  # the field's /v1/model input.extra_inputs entry


def request_content(runtime: ModelRuntime | None, settings: Settings) -> dict[str, Schema]:
    """The two forms: multipart/form-data and application/json, without examples."""
    extras = runtime.info.extra_inputs if runtime is not None else ()
    required = ["image", *(extra.name for extra in extras)]
    form = {
        "type": "object",
        "required": required,
        "properties": _fields(runtime, settings, True),
    }
    body = {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": _fields(runtime, settings, False),
    }
    parts = {extra.name: {"contentType": "application/octet-stream"} for extra in extras}
    multipart: Schema = {"schema": form} | ({"encoding": parts} if parts else {})
    return {"multipart/form-data": multipart, "application/json": {"schema": body}}


def mode_of(runtime: ModelRuntime | None) -> Schema:
    """The model's modes; any model's before one is ready."""
    return MODE if runtime is None else mode_schema(runtime.info.modes)


def _fields(runtime: ModelRuntime | None, settings: Settings, binary: bool) -> Schema:
    """The request's fields, bounded as the pipeline checks them for the model served."""
    limit = settings.max_top_k
    extras: tuple[ExtraInput, ...] = ()
    if runtime is not None:
        limit = min(limit, len(runtime.info.classes))
        extras = runtime.info.extra_inputs
    boxes: Schema = {"type": "array", "items": BOX, "maxItems": settings.max_boxes}
    image: Schema = {"type": "string", "description": "a JPEG, PNG, WebP, BMP, TIFF or GIF file"}
    if binary:
        image["format"] = "binary"
        boxes = {
            "type": "string",
            "description": f"JSON [[x1, y1, x2, y2], ...], at most {settings.max_boxes} boxes, "
            "in pixels of the image as displayed (EXIF applied); x2 and y2 exclusive",
        }
    else:
        image.update(contentEncoding="base64", minLength=4, pattern=BASE64_PATTERN)
    fields: Schema = {
        "image": image,
        "boxes": boxes,
        "top_k": {"type": "integer", "minimum": 1, "maximum": limit, "default": DEFAULT_TOP_K},
        "mode": mode_of(runtime),
    }
    for extra in extras:
        fields[extra.name] = extra_field(extra, binary)
    return fields


def extra_field(extra: ExtraInput, binary: bool) -> Schema:
    """An extra input as a field: a .npy file part (multipart) or its base64 (JSON)."""
    spec = extra.describe()
    field: Schema = {"type": "string", "description": _extra_description(spec, binary)}
    if binary:
        field["format"] = "binary"
    else:
        field.update(contentEncoding="base64", contentMediaType="application/octet-stream")
        field.update(minLength=4, pattern=BASE64_PATTERN)
    field[EXTRA_INPUT_KEY] = spec
    return field


def _extra_description(spec: dict[str, Any], binary: bool) -> str:
    name, shape = spec["name"], spec["shape"]
    text = (
        f"The model's extra input {name!r} (required): a NumPy .npy file (numpy.save, no "
        f"pickles) of dtype {spec['dtype']} and shape {shape} (-1: any size, none empty)"
    )
    follows = spec.get("follows_image")
    if follows is not None:
        d = follows["divisor"]
        text += (
            f"; axes 1 and 2 follow the image as sent: ceil(height / {d}) x ceil(width / {d}), "
            "and are resized with the image when it is"
        )
    if binary:
        return f"{text}. Send it as a file part named {name!r}."
    return f"{text}. Send the file's bytes in base64 under {name!r}."
