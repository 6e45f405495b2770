"""Routes only translate: HTTP in, pipeline call, HTTP out."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.routing import Route

from service.errors import NotReady
from service.http.error_bodies import problem
from service.http.request_context import note_regions
from service.region_api.descriptions import model_body, ready_body
from service.region_api.parsing import parse_request
from service.regions.answer_json import answer_json
from service.runtime import ModelRuntime

router = APIRouter()


async def get_runtime(request: Request) -> ModelRuntime:
    runtime: ModelRuntime | None = getattr(request.app.state, "runtime", None)
    if runtime is None:
        raise NotReady("the model is not loaded")
    return runtime


RuntimeDep = Annotated[ModelRuntime, Depends(get_runtime)]


async def classify_regions(request: Request) -> Response:
    runtime = await get_runtime(request)
    if not runtime.ready:
        raise NotReady(f"the model is warming up (self-test {runtime.self_test})")
    extra_names = frozenset(e.name for e in runtime.info.extra_inputs)
    parsed = await parse_request(request, runtime.settings.max_request_bytes, extra_names)
    answer = await runtime.pipeline.classify(parsed)
    note_regions(len(answer.regions))
    # Written from the answer's columns by pydantic-core, no Python object per region.
    return Response(answer_json(answer), media_type="application/json")


# The hot route parses its own body, so FastAPI's per-request dependency solving (~0.2 ms of a
# request's overhead, measured) buys it nothing. The app serves it beside FastAPI's own plain
# routes (/openapi.json, /docs); `service.region_api.openapi` documents it.
classify_regions_route = Route(
    "/classify-regions", classify_regions, methods=["POST"], include_in_schema=False
)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(runtime: RuntimeDep) -> dict[str, str] | JSONResponse:
    if not runtime.ready:
        return problem(503, "Model not ready", f"self-test {runtime.self_test}", retry_after=5)
    return ready_body(runtime)


@router.get("/metrics")
async def metrics(runtime: RuntimeDep) -> Response:
    runtime.metrics.queue_depth.set(runtime.batcher.depth)
    return Response(
        generate_latest(runtime.metrics.exposition_registry()), media_type=CONTENT_TYPE_LATEST
    )


@router.get("/v1/model")
async def model(runtime: RuntimeDep) -> dict[str, Any]:
    return model_body(runtime)
