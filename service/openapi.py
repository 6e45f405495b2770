"""The OpenAPI entry of POST /classify-regions, which parses its own body and so has no
signature for FastAPI to derive one from. The other routes are derived as usual."""

from typing import Any

from fastapi import FastAPI

from service.errors import PROBLEM_JSON
from service.pipeline import MODES
from service.request_parsing import DEFAULT_TOP_K

BOX = {
    "type": "array",
    "items": {"type": "number"},
    "minItems": 4,
    "maxItems": 4,
    "description": "[x1, y1, x2, y2] in pixels of the image as displayed (EXIF applied)",
}
TOP_K = {"type": "integer", "minimum": 1, "default": DEFAULT_TOP_K}
MODE = {
    "type": "string",
    "enum": list(MODES),
    "description": "default: 'boxes' when boxes are given, else 'proposals'",
}

SCORE = {
    "type": "object",
    "properties": {"label": {"type": "string"}, "score": {"type": "number"}},
}
REGION = {
    "type": "object",
    "required": ["index", "box", "label", "score", "top_k"],
    "properties": {
        "index": {"type": "integer"},
        "box": BOX,
        "label": {"type": "string"},
        "score": {"type": "number"},
        "top_k": {"type": "array", "items": SCORE},
        "mask": {
            "type": "object",
            "description": "superpixels mode: COCO run-length encoding",
            "properties": {
                "size": {"type": "array", "items": {"type": "integer"}},
                "counts": {"type": "string"},
            },
        },
    },
}
REGIONS = {
    "type": "object",
    "properties": {
        "model": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "version": {"type": "string"}},
        },
        "image": {
            "type": "object",
            "properties": {"width": {"type": "integer"}, "height": {"type": "integer"}},
        },
        "mode": MODE,
        "regions": {"type": "array", "items": REGION},
        "timing_ms": {"type": "object", "additionalProperties": {"type": "number"}},
    },
}
PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM}}}


CLASSIFY_REGIONS = {
    "summary": "Classify regions of an image",
    "description": "One region per given box, per proposal, or per superpixel, with class scores.",
    "operationId": "classify_regions",
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "image": {"type": "string", "format": "binary"},
                        "boxes": {
                            "type": "string",
                            "description": "JSON [[x1, y1, x2, y2], ...]",
                        },
                        "top_k": TOP_K,
                        "mode": MODE,
                    },
                }
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["image"],
                    "additionalProperties": False,
                    "properties": {
                        "image": {"type": "string", "contentEncoding": "base64"},
                        "boxes": {"type": "array", "items": BOX},
                        "top_k": TOP_K,
                        "mode": MODE,
                    },
                }
            },
        },
    },
    "responses": {
        "200": {
            "description": "Regions with their labels and class scores",
            "content": {"application/json": {"schema": REGIONS}},
        },
        "400": _problem("Unreadable image or malformed field"),
        "413": _problem("Too many bytes, pixels or boxes"),
        "415": _problem("Not multipart/form-data or application/json"),
        "422": _problem("A value out of range"),
        "503": _problem("Not ready, or overloaded (see Retry-After)"),
    },
}


def document_classify_regions(app: FastAPI) -> None:
    """FastAPI's own schema of the app, with the hand-written entry added once it is built."""
    derived = app.openapi

    def openapi() -> dict[str, Any]:
        schema = app.openapi_schema
        if schema is None:
            schema = derived()  # builds app.openapi_schema, kept for later calls
            schema["paths"] = {"/classify-regions": {"post": CLASSIFY_REGIONS}, **schema["paths"]}
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
