"""GET /openapi.json: FastAPI's derived document, completed with what it cannot derive. The
routes that build their own bodies get their schemas (`service.openapi_schemas`); every route
gets a tag, a summary and its errors; bounds are those the server applies to the model served
(top_k, modes, boxes, extra inputs), and examples are that model's own answers."""

import copy
import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from service import routes
from service.errors import PROBLEM_JSON
from service.openapi_schemas import (
    BASE64_PATTERN,
    BOX,
    HEALTH,
    MODE,
    MODEL,
    PROBLEM,
    READY,
    REGIONS,
    Schema,
)
from service.request_parsing import DEFAULT_TOP_K
from service.runtime import ModelRuntime
from service.settings import Settings

OPENAPI_PATH = "/openapi.json"
# POST /classify-regions on models/example.png and a JSON request, recorded from the shipped
# model (tests/service/openapi_example.py); shown only while that model (same name and
# version) is served.
RECORDED_EXAMPLE = Path(__file__).with_name("openapi_example.json")
TAGS = [
    {
        "name": "regions",
        "description": "The region API: labels and class scores for regions "
        "of an image (given boxes, proposals or superpixels). The page at / uses it.",
    },
    {"name": "health", "description": "Probes for orchestrators and load balancers."},
    {"name": "operations", "description": "Prometheus metrics."},
]
NOT_READY = {
    "type": "about:blank",
    "title": "Model not ready",
    "status": 503,
    "detail": "the model is warming up (self-test not run yet)",
}


def _problem(description: str, example: dict[str, Any] | None = None) -> Schema:
    media: Schema = {"schema": PROBLEM}
    if example is not None:
        media["example"] = example
    return {"description": description, "content": {PROBLEM_JSON: media}}


def _unavailable(when: str) -> Schema:
    answer = _problem(f"{when}; see Retry-After", NOT_READY)
    answer["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
    return answer


def _json(schema: Schema, description: str, example: Any = None) -> Schema:
    media: Schema = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"description": description, "content": {"application/json": media}}


def _simple_routes(ready: Any, model: Any) -> dict[str, Schema]:
    return {
        "/healthz": {
            "tags": ["health"],
            "summary": "Liveness: 200 while the process serves",
            "responses": {
                "200": _json(HEALTH, "The process serves", {"status": "ok"}),
                "503": _unavailable("Over max_connections, or shutting down"),
            },
        },
        "/readyz": {
            "tags": ["health"],
            "summary": "Readiness: the model is loaded, warmed up and passed its self-test",
            "responses": {
                "200": _json(READY, "Ready, with the provider in use", ready),
                "503": _unavailable("Not ready yet, over max_connections, or shutting down"),
            },
        },
        "/metrics": {
            "tags": ["operations"],
            "summary": "Prometheus metrics (text exposition format)",
            "responses": {
                "200": {
                    "description": "Every metric of the README's table",
                    "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
                },
                "503": _unavailable("The model is not loaded, or shutting down"),
            },
        },
        "/v1/model": {
            "tags": ["regions"],
            "summary": "The model served: classes, modes, input limits, provider",
            "responses": {
                "200": _json(MODEL, "The model as it describes itself", model),
                "503": _unavailable("The model is not loaded, or shutting down"),
            },
        },
    }


def _fields(runtime: ModelRuntime | None, settings: Settings, binary: bool) -> Schema:
    """The request's fields, bounded as the pipeline checks them for the model served."""
    limit = settings.max_top_k
    modes = list(MODE["enum"])
    extras: list[str] = []
    if runtime is not None:
        limit = min(limit, len(runtime.info.classes))
        modes = list(runtime.info.modes)
        extras = [extra.name for extra in runtime.info.extra_inputs]
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
        "mode": {**MODE, "enum": modes},
    }
    for name in extras:
        fields[name] = {"type": "string", "description": "the model's extra input, a .npy file"}
        fields[name].update({"format": "binary"} if binary else {"contentEncoding": "base64"})
    return fields


def _recorded_examples(runtime: ModelRuntime | None) -> tuple[Schema, Schema]:
    """The request and answer examples (the JSON body's, named answers), recorded from the
    shipped model: none for another model."""
    recorded = json.loads(RECORDED_EXAMPLE.read_text())
    served = (
        None if runtime is None else {"name": runtime.info.name, "version": runtime.info.version}
    )
    if recorded["response"]["model"] != served:
        return {}, {}
    answers = {
        "example.png": {
            "summary": f"models/example.png with the boxes of its digits, {recorded['boxes']}",
            "value": recorded["response"],
        },
        "request example": {
            "summary": "The answer to the JSON request's example (the image cut around the 4)",
            "value": recorded["request_response"],
        },
    }
    return {"example": recorded["request"]}, {"examples": answers}


def _classify_regions(runtime: ModelRuntime | None, settings: Settings) -> Schema:
    request_example, answer_examples = _recorded_examples(runtime)
    form = {"type": "object", "required": ["image"], "properties": _fields(runtime, settings, True)}
    body = {
        "type": "object",
        "required": ["image"],
        "additionalProperties": False,
        "properties": _fields(runtime, settings, False),
    }
    answer = _json(REGIONS, "Regions with their labels and class scores")
    answer["content"]["application/json"].update(answer_examples)
    return {
        "tags": ["regions"],
        "summary": "Classify regions of an image",
        "description": "One region per given box (in their order), per proposal, or per "
        "superpixel (with its mask), with labels and class scores.",
        "operationId": "classify_regions",
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": form},
                "application/json": {"schema": body, **request_example},
            },
        },
        "responses": {
            "200": answer,
            "400": _problem("Empty, unreadable or truncated image; a malformed field"),
            "408": _problem("The body did not arrive within body_timeout_s"),
            "413": _problem("Too many bytes, pixels or boxes"),
            "415": _problem(
                "Not multipart/form-data or application/json; an image format outside the six"
            ),
            "422": _problem("A value out of range: a box, top_k, a mode the model lacks"),
            "503": _unavailable("Not ready, queue full, deadline passed, or shutting down"),
        },
    }


async def build_openapi(app: FastAPI, derived: Schema, settings: Settings) -> Schema:
    """The document for the model now served (bounds and examples need it ready)."""
    runtime: ModelRuntime | None = getattr(app.state, "runtime", None)
    if runtime is not None and not runtime.ready:
        runtime = None
    ready = model = None
    if runtime is not None:
        ready, model = await routes.readyz(runtime), await routes.model(runtime)
    schema = copy.deepcopy(derived)
    schema["tags"] = TAGS
    paths = schema["paths"]
    for path, entry in _simple_routes(ready, model).items():
        paths[path]["get"].update(entry)
    schema["paths"] = {"/classify-regions": {"post": _classify_regions(runtime, settings)}}
    schema["paths"].update(paths)
    return schema


def include_openapi(app: FastAPI, settings: Settings) -> None:
    """For an app built with `openapi_url=None`: the document, built once per model served."""
    built: dict[int, Schema] = {}

    @app.get(OPENAPI_PATH, include_in_schema=False)
    async def openapi(request: Request) -> JSONResponse:
        runtime = getattr(request.app.state, "runtime", None)
        key = id(runtime) if runtime is not None and runtime.ready else 0
        schema = built.get(key) or await build_openapi(app, app.openapi(), settings)
        if key:
            built.clear()
            built[key] = schema
        return JSONResponse(schema)
