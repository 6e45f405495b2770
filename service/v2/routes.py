"""The Open Inference Protocol's REST routes. Routes only translate: the models do the work.

Plain Starlette routes, like POST /classify-regions: each reads its own path parameters and
body, so FastAPI's per-request dependency solving would buy nothing."""

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service.errors import NotReady
from service.runtime import ModelRuntime
from service.v2.body import HEADER_LENGTH, read_infer_body
from service.v2.models import OnnxModel, ServedModels, V2Model, model_metadata
from service.v2.regions_model import RegionsModel

EXTENSIONS = ["binary_tensor_data"]
# Health answers: 200 true, 400 false (the protocol asks for a 4xx status, as Triton answers;
# tritonclient reads only the status), with the protocol's JSON objects $live_server_response,
# $ready_server_response and $ready_model_response, which KServe's client reads.
TRUE, FALSE = 200, 400


def _health(body: dict[str, str | bool], healthy: bool) -> Response:
    return JSONResponse(body, status_code=TRUE if healthy else FALSE)


def _runtime(request: Request) -> ModelRuntime | None:
    return getattr(request.app.state, "runtime", None)


def _served(request: Request) -> ServedModels:
    """The models of the runtime now loaded, built once per runtime."""
    runtime = _runtime(request)
    if runtime is None:
        raise NotReady("the model is not loaded")
    served: ServedModels | None = getattr(request.app.state, "v2_models", None)
    if served is None or served.runtime is not runtime:
        served = ServedModels(runtime, [OnnxModel(runtime), RegionsModel(runtime)])
        request.app.state.v2_models = served
    return served


def _model(request: Request) -> tuple[V2Model, ModelRuntime]:
    served = _served(request)
    params = request.path_params
    return served.find(params["name"], params.get("version")), served.runtime


async def server_live(_: Request) -> Response:
    return _health({"live": True}, True)


async def server_ready(request: Request) -> Response:
    runtime = _runtime(request)
    ready = runtime is not None and runtime.ready
    return _health({"ready": ready}, ready)


async def server_metadata(request: Request) -> Response:
    body = {"name": request.app.title, "version": request.app.version, "extensions": EXTENSIONS}
    return JSONResponse(body)


async def model_ready(request: Request) -> Response:
    model, runtime = _model(request)
    return _health({"name": model.name, "ready": runtime.ready}, runtime.ready)


async def metadata(request: Request) -> Response:
    model, _ = _model(request)
    return JSONResponse(model_metadata(model))


async def infer(request: Request) -> Response:
    model, runtime = _model(request)
    if not runtime.ready:
        raise NotReady(f"the model is warming up (self-test {runtime.self_test})")
    body = await read_infer_body(request, runtime.settings.max_request_bytes)
    encoded = await model.infer(body)
    if encoded.header_length is None:
        return Response(encoded.body, media_type="application/json")
    headers = {HEADER_LENGTH: str(encoded.header_length)}
    return Response(encoded.body, media_type="application/octet-stream", headers=headers)


_MODEL_PATHS = ("/v2/models/{name}", "/v2/models/{name}/versions/{version}")
v2_routes = [
    Route("/v2/health/live", server_live, methods=["GET"]),
    Route("/v2/health/ready", server_ready, methods=["GET"]),
    Route("/v2", server_metadata, methods=["GET"]),
    *(Route(path, metadata, methods=["GET"]) for path in _MODEL_PATHS),
    *(Route(f"{path}/ready", model_ready, methods=["GET"]) for path in _MODEL_PATHS),
    *(Route(f"{path}/infer", infer, methods=["POST"]) for path in _MODEL_PATHS),
]
