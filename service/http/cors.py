"""Cross-origin requests from the origins listed in REGIONSERVE_CORS_ORIGINS, and no others.

Starlette's CORSMiddleware, with two changes: an origin not listed gets no CORS header at
all (Starlette still sends it the preflight's Allow-Methods and Max-Age, and Expose-Headers
on other answers), and a refused preflight is an error of the path's protocol (problem+json,
or `{"error"}` on /v2) where Starlette answers in plain text.
"""

from collections.abc import Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.http.error_bodies import error_for
from service.http.request_context import REQUEST_ID_HEADER

ALLOWED_METHODS = ("GET", "POST")
# Request headers beyond the CORS-safelisted ones (Content-Type among them).
ALLOWED_HEADERS = (REQUEST_ID_HEADER,)
# Answer headers a page may read beyond the safelisted ones: the request id, how long to
# wait when overloaded, and where the JSON ends in the binary tensor extension's answers.
EXPOSED_HEADERS = (REQUEST_ID_HEADER, "Retry-After", "Inference-Header-Content-Length")
_PREFLIGHT_CACHE_S = 600


def is_cors_header(name: str) -> bool:
    return name.lower().startswith("access-control-")


class ListedOriginsCors(CORSMiddleware):
    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        super().__init__(
            app,
            allow_origins=origins,
            allow_methods=ALLOWED_METHODS,
            allow_headers=ALLOWED_HEADERS,
            expose_headers=EXPOSED_HEADERS,
            max_age=_PREFLIGHT_CACHE_S,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        preflight = scope["method"] == "OPTIONS" and "access-control-request-method" in headers
        if origin is None or not preflight:
            await self.simple_response(scope, receive, send, request_headers=headers)
            return
        answer = self.preflight_response(request_headers=headers)
        if answer.status_code != 200:
            refusal = error_for(
                scope["path"], 400, "CORS preflight refused", self.refusal(answer.body)
            )
            if self.is_allowed_origin(origin):  # a listed origin asking for too much
                cors = {k: v for k, v in answer.headers.items() if is_cors_header(k)}
                refusal.headers.update(cors)
            refusal.headers["Vary"] = "Origin"
            answer = refusal
        await answer(scope, receive, send)

    @staticmethod
    def refusal(starlette_text: bytes | memoryview) -> str:
        """'Disallowed CORS origin, method' -> 'this origin, method is not allowed'."""
        refused = bytes(starlette_text).decode().removeprefix("Disallowed CORS ")
        return f"cross-origin request refused: its {refused} is not allowed"

    async def send(self, message: Message, send: Send, request_headers: Headers) -> None:
        origin = request_headers.get("origin")
        if origin is None or self.is_allowed_origin(origin):
            await super().send(message, send, request_headers)
            return
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            headers["Vary"] = ", ".join([*headers.getlist("Vary"), "Origin"])
        await send(message)
