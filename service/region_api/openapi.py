"""GET /openapi.json: FastAPI's derived document, completed with what it cannot derive. The
routes that build their own bodies get their schemas (`service.region_api.openapi_schemas`);
every route gets a tag, a summary and its errors; bounds are those the server applies to the
model served (top_k, modes, boxes, extra inputs: `service.region_api.openapi_request`), and
examples are that model's own answers."""

import copy
import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from service.http.error_bodies import PROBLEM_JSON
from service.region_api.descriptions import model_body, ready_body
from service.region_api.openapi_request import mode_of, request_content
from service.region_api.openapi_schemas import (
    HEALTH,
    PROBLEM,
    READY,
    Schema,
    model_schema,
    regions_schema,
)
from service.runtime import ModelRuntime
from service.settings import Settings

OPENAPI_PATH = "/openapi.json"
# POST /classify-regions on models/example.png and a JSON request, recorded from the shipped
# model (tests/service/region_api/openapi_example.py); shown only while that model (same name and
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


def _simple_routes(ready: Any, model: Any, mode: Schema) -> dict[str, Schema]:
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
                "200": _json(model_schema(mode), "The model as it describes itself", model),
                "503": _unavailable("The model is not loaded, or shutting down"),
            },
        },
    }


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
    content = request_content(runtime, settings)
    content["application/json"].update(request_example)
    answer = _json(regions_schema(mode_of(runtime)), "Regions with their labels and class scores")
    answer["content"]["application/json"].update(answer_examples)
    return {
        "tags": ["regions"],
        "summary": "Classify regions of an image",
        "description": _description(runtime),
        "operationId": "classify_regions",
        "requestBody": {"required": True, "content": content},
        "responses": {
            "200": answer,
            "400": _problem(
                "Empty, unreadable or truncated image; a malformed field; an extra input "
                "missing or not a .npy file"
            ),
            "408": _problem("The body did not arrive within body_timeout_s"),
            "413": _problem("Too many bytes, pixels or boxes"),
            "415": _problem(
                "Not multipart/form-data or application/json; an image format outside the six"
            ),
            "422": _problem(
                "A value out of range: a box, top_k, a mode the model lacks, an extra input "
                "of another dtype or shape"
            ),
            "503": _unavailable("Not ready, queue full, deadline passed, or shutting down"),
        },
    }


_REGION_PER_MODE = {
    "boxes": "boxes: one region per given box, in their order",
    "proposals": "proposals: one per region the service proposes",
    "superpixels": "superpixels: one per superpixel, with its mask",
}


def _description(runtime: ModelRuntime | None) -> str:
    """What the model's modes answer, and the extra inputs it takes."""
    modes = "; ".join(_REGION_PER_MODE[mode] for mode in mode_of(runtime)["enum"])
    text = f"Regions with their labels and class scores, in the modes of the model ({modes})."
    extras = [extra.name for extra in runtime.info.extra_inputs] if runtime is not None else []
    if extras:
        text += (
            f" This model also takes the extra inputs {', '.join(extras)}: each a NumPy .npy "
            "file, a part named after the input (multipart) or base64 under its name (JSON)."
        )
    return text


async def build_openapi(app: FastAPI, derived: Schema, settings: Settings) -> Schema:
    """The document for the model now served (bounds and examples need it ready)."""
    runtime: ModelRuntime | None = getattr(app.state, "runtime", None)
    if runtime is not None and not runtime.ready:
        runtime = None
    ready = model = None
    if runtime is not None:
        ready, model = ready_body(runtime), model_body(runtime)
    schema = copy.deepcopy(derived)
    schema["tags"] = TAGS
    paths = schema["paths"]
    for path, entry in _simple_routes(ready, model, mode_of(runtime)).items():
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
