"""The FastAPI app: model loaded in the lifespan, routes, errors and metrics wired once."""

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

from service.errors import install_error_handlers, problem
from service.metrics import Metrics
from service.predictor import Predictor
from service.routes import router
from service.runtime import ModelRuntime
from service.settings import Settings, get_settings


def create_app(settings: Settings | None = None, predictor: Predictor | None = None) -> FastAPI:
    """An app serving `settings.model_path` (or an already loaded `predictor`)."""
    settings = settings or get_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loaded = predictor or Predictor(
            settings.model_path, settings.providers, settings.intra_op_threads
        )
        runtime = ModelRuntime(settings, loaded, metrics)
        runtime.start()
        app.state.runtime = runtime
        yield
        await runtime.stop()

    app = FastAPI(title="RegionServe", version="0.1.0", lifespan=lifespan)
    app.include_router(router)
    install_error_handlers(app)

    @app.middleware("http")
    async def count_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:  # a bug, not a client error: same body shape, status 500
            response = problem(500, "Internal error", "the server failed; see its log")
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        metrics.requests.labels(path, str(response.status_code)).inc()
        metrics.request_latency.labels(path).observe(time.perf_counter() - start)
        return response

    return app
