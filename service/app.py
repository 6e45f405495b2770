"""The FastAPI app: model loaded in the lifespan, routes, errors and metrics wired once."""

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from service.http.disconnect import CancelOnDisconnect
from service.http.error_bodies import install_error_handlers
from service.http.layers import add_http_layers
from service.http.request_metrics import RequestMetrics
from service.inference.predictor import Predictor
from service.metrics import Metrics
from service.region_api import include_region_api
from service.runtime import ModelRuntime
from service.settings import Settings, get_settings
from service.v2 import include_v2

log = logging.getLogger("regionserve")
NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


def create_app(
    settings: Settings | None = None,
    predictor: Predictor | None = None,
    on_failure: Callable[[str], None] = log.error,
) -> FastAPI:
    """An app serving `settings.model_path` (or an already loaded `predictor`);
    `on_failure(message)` is called if the model fails its warm-up or self-test."""
    settings = settings or get_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loaded = predictor or Predictor.from_settings(settings)
        runtime = ModelRuntime(settings, loaded, metrics, on_failure)
        runtime.start()
        app.state.runtime = runtime
        yield
        await runtime.stop()

    app = FastAPI(
        title="RegionServe",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url=None,  # the region API serves the document and the pages, without a CDN
        docs_url=None,
        redoc_url=None,
        # FastAPI's OpenTelemetry bridge asks the global providers on every request whether
        # one is configured (~0.05 ms); the service's metrics and access log are its own.
        telemetry=NO_TELEMETRY,
    )
    app.state.metrics = metrics  # the server's protocol counts its own answers too
    include_region_api(app, settings)
    include_v2(app)
    install_error_handlers(app)  # problem+json, or the protocol's {"error"} on /v2

    app.add_middleware(CancelOnDisconnect)  # inside RequestMetrics: it counts 499s
    app.add_middleware(RequestMetrics, metrics=metrics, routes=app.routes)
    add_http_layers(app, settings)  # request ids, access log, CORS, gzip: outside the metrics
    return app
