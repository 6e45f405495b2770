"""The protocol's error body, `{"error": "..."}`, for every error on a /v2 path.

The region API's handlers (problem+json) stay installed; for each exception type they handle,
the one installed here answers /v2 paths itself and hands every other path to them."""

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response

from service.errors import ServiceError
from service.request_context import note_reason

Handler = Callable[[Request, Any], Awaitable[Response]]
AppHandler = Callable[[Request, Any], Response | Awaitable[Response]]
PREFIX = "/v2"
# The protocol names 400 for bad input; the region API's 422 (a value out of range) is one.
_STATUS = {422: 400}


class ModelNotFound(ServiceError):
    status, title = 404, "Not found"


def is_v2_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    status = _STATUS.get(status, status)
    note_reason(message)  # for the access log
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def _service_error(_: Request, error: ServiceError) -> Response:
    retry = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else None
    return error_response(error.status, error.detail, retry)


async def _http_error(request: Request, error: HTTPException) -> Response:
    message = f"{error.detail}: {request.method} {request.url.path}"
    return error_response(error.status_code, message, error.headers)


async def _validation_error(_: Request, error: RequestValidationError) -> Response:
    return error_response(400, "; ".join(str(e["msg"]) for e in error.errors()))


_V2_HANDLERS: dict[type[Exception], Handler] = {
    ServiceError: _service_error,
    HTTPException: _http_error,
    RequestValidationError: _validation_error,
}


def install_v2_error_handlers(app: FastAPI) -> None:
    """Call after the app's own handlers are installed: they answer every other path."""
    for kind, v2_handler in _V2_HANDLERS.items():
        other = app.exception_handlers.get(kind)
        app.add_exception_handler(kind, _by_path(v2_handler, other))


def _by_path(v2_handler: Handler, other: AppHandler | None) -> Handler:
    async def handle(request: Request, error: Any) -> Response:
        if is_v2_path(request.url.path):
            return await v2_handler(request, error)
        if other is None:  # nobody handled it before: as if this handler were not here
            raise error
        answer = other(request, error)
        return await answer if inspect.isawaitable(answer) else answer

    return handle
