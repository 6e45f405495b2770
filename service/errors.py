"""Domain errors and their one problem+json shape (RFC 9457), FastAPI's own errors included."""

from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from service.request_context import note_reason

PROBLEM_JSON = "application/problem+json"


class ServiceError(Exception):
    status = 500
    title = "Internal error"
    retry_after: int | None = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(ServiceError):
    status, title = 400, "Bad request"


class PayloadTooLarge(ServiceError):
    status, title = 413, "Payload too large"


class UnsupportedMediaType(ServiceError):
    status, title = 415, "Unsupported media type"


class InvalidValue(ServiceError):
    status, title = 422, "Unprocessable value"


class NotReady(ServiceError):
    status, title, retry_after = 503, "Model not ready", 5


class Overloaded(ServiceError):
    status, title, retry_after = 503, "Overloaded", 1


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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(_: Request, error: ServiceError) -> JSONResponse:
        return problem(error.status, error.title, error.detail, error.retry_after)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        return problem(422, "Unprocessable value", details)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JSONResponse:
        # Starlette's own headers ride along: Allow on a 405, for one.
        return problem(
            error.status_code, str(error.detail), str(error.detail), headers=error.headers
        )
