"""Every error body the service writes, and which one a path gets: the Open Inference
Protocol's `{"error": "..."}` under /v2, `application/problem+json` (RFC 9457) everywhere
else. The exception handlers, RequestMetrics' 500 and shutdown 503, the CORS refusal and the
guarded HTTP protocol's own answers all write through here."""

from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.responses import Response

from service.errors import ServiceError
from service.http.request_context import note_reason

PROBLEM_JSON = "application/problem+json"
V2_PREFIX = "/v2"
# The protocol names 400 for bad input; the region API's 422 (a value out of range) is one.
_V2_STATUS = {422: 400}


def is_v2_path(path: str) -> bool:
    return path == V2_PREFIX or path.startswith(V2_PREFIX + "/")


def problem_body(status: int, title: str, detail: str) -> dict[str, str | int]:
    return {"type": "about:blank", "title": title, "status": status, "detail": detail}


def problem(
    status: int,
    title: str,
    detail: str,
    retry_after: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    all_headers = dict(headers or {})
    if retry_after is not None:
        all_headers["Retry-After"] = str(retry_after)
    note_reason(detail)  # for the access log
    body = problem_body(status, title, detail)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=all_headers)


def v2_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    status = _V2_STATUS.get(status, status)
    note_reason(message)  # for the access log
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def error_for(
    path: str, status: int, title: str, detail: str, retry_after: int | None = None
) -> Response:
    """The error body of the path's protocol: `{"error"}` on /v2, problem+json elsewhere."""
    if is_v2_path(path):
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return v2_error(status, detail, headers)
    return problem(status, title, detail, retry_after=retry_after)


def install_error_handlers(app: FastAPI) -> None:
    """One handler per exception type, FastAPI's own included, each picking by path."""

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, error: ServiceError) -> Response:
        return error_for(
            request.url.path, error.status, error.title, error.detail, error.retry_after
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> Response:
        if is_v2_path(request.url.path):
            return v2_error(400, "; ".join(str(e["msg"]) for e in error.errors()))
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        return problem(422, "Unprocessable value", details)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if is_v2_path(request.url.path):
            message = f"{error.detail}: {request.method} {request.url.path}"
            return v2_error(error.status_code, message, error.headers)
        # Starlette's own headers ride along: Allow on a 405, for one.
        return problem(
            error.status_code, str(error.detail), str(error.detail), headers=error.headers
        )
