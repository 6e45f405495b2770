"""The middleware around the app's routes, and why in this order (outermost first):

1. RequestLog: the request id and the access log. Outermost, so every answer the app gives
   carries the id and gets its line, a refused CORS preflight and RequestMetrics' own 500
   and shutdown 503 included, and its latency covers all the layers below.
2. ListedOriginsCors (only with REGIONSERVE_CORS_ORIGINS): answers preflights itself, and
   outside the layers that write errors, so a page can read an error answer too.
3. GZipMiddleware: compresses answers of `gzip_min_bytes` or more for clients that accept
   gzip. Compression happens in `send`, so RequestMetrics' latency includes it.
4. RequestMetrics, then CancelOnDisconnect (service/app.py). Preflights answered by the CORS
   layer are logged but not counted.

The HTTP protocol's own answers (service/server/guarded_protocol.py: 408, 431, 400 and 503 for slow,
oversized, malformed or surplus connections) never reach the app: the protocol gives them a
request id of its own and writes their access line itself, except a 408 for a body that
stopped arriving, whose request the app is serving: that one keeps the request's id and
RequestLog writes its line. Those answers carry no CORS header and are never compressed.
"""

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware

from service.http.cors import ListedOriginsCors
from service.http.request_log import RequestLog
from service.settings import Settings

# zlib's default: a 70 KB superpixels answer comes out 2% larger than at level 9
# (Starlette's default), in 0.26 to 0.79 of its time (bench/RESULTS.md, compression).
GZIP_LEVEL = 6


def add_http_layers(app: FastAPI, settings: Settings) -> None:
    """Call after every other middleware is added: each added goes outside the last."""
    if settings.gzip_min_bytes > 0:
        app.add_middleware(
            GZipMiddleware, minimum_size=settings.gzip_min_bytes, compresslevel=GZIP_LEVEL
        )
    if settings.cors_origins:
        app.add_middleware(ListedOriginsCors, origins=settings.cors_origins)
    app.add_middleware(RequestLog, routes=app.routes)
