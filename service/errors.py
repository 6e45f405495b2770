"""The service's domain errors: what went wrong and which HTTP status says so, nothing more.
No web framework here: `service.http.error_bodies` writes them as each protocol's body."""


class ServiceError(Exception):
    status = 500
    title = "Internal error"
    retry_after: int | None = None

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(ServiceError):
    status, title = 400, "Bad request"


class ModelNotFound(ServiceError):
    status, title = 404, "Not found"


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
