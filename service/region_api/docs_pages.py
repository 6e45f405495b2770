"""/docs (Swagger UI) and /redoc (ReDoc) from files the app serves itself, the copies that the
pinned fastapi-offline package ships: both render where no CDN can be reached. ReDoc's bundle
fetches one file of its own, the Redocly logo of its side menu: it is served with that logo
replaced by an empty inline picture, so the page asks nothing of other hosts."""

from functools import cache
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_PATH = "/docs/assets"
REDOC_JS_PATH = "/docs/redoc.standalone.js"
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
EMPTY_PICTURE = b"data:image/svg+xml,%3Csvg xmlns=%27http://www.w3.org/2000/svg%27/%3E"


@cache
def redoc_bundle() -> bytes:
    return (ASSETS / "redoc.standalone.js").read_bytes().replace(REDOC_LOGO, EMPTY_PICTURE)


def include_docs(app: FastAPI, openapi_path: str) -> None:
    """For an app built with `docs_url=None, redoc_url=None`; the document is at
    `openapi_path`."""
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS), name="docs-assets")

    @app.get(REDOC_JS_PATH, include_in_schema=False)
    async def redoc_js() -> Response:
        return Response(redoc_bundle(), media_type="text/javascript")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_path}",
            title=f"{app.title}: Swagger UI",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            # No badge from validator.swagger.io: the page asks nothing of other hosts.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{openapi_path}",
            title=f"{app.title}: ReDoc",
            redoc_js_url=f"{root}{REDOC_JS_PATH}",
            redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )
