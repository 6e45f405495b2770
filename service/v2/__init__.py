"""The Open Inference Protocol v2 (KServe / Triton REST) beside the region API."""

from fastapi import FastAPI

from service.v2.errors import install_v2_error_handlers
from service.v2.routes import v2_routes


def include_v2(app: FastAPI) -> None:
    """The /v2 routes, answering errors with the protocol's body. Call it after the app's
    own error handlers are installed: they keep answering every other path."""
    app.router.routes.extend(v2_routes)
    install_v2_error_handlers(app)
