"""The Open Inference Protocol v2 (KServe / Triton REST) beside the region API. Its errors are
the protocol's `{"error": ...}` bodies, written by `service.http.error_bodies` for /v2 paths."""

from fastapi import FastAPI

from service.v2.routes import v2_routes


def include_v2(app: FastAPI) -> None:
    """The /v2 routes, after the region API's."""
    app.router.routes.extend(v2_routes)
