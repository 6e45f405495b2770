"""The region API: POST /classify-regions, the health, model and metrics routes,
/openapi.json, /docs and /redoc, and the page at /. Beside it, and never borrowing from it,
the Open Inference Protocol (`service.v2`)."""

from fastapi import FastAPI

from service.region_api.docs_pages import include_docs
from service.region_api.openapi import OPENAPI_PATH, include_openapi
from service.region_api.page import include_page
from service.region_api.routes import classify_regions_route, router
from service.settings import Settings


def include_region_api(app: FastAPI, settings: Settings) -> None:
    app.router.routes.insert(0, classify_regions_route)  # the hot route is matched first
    app.include_router(router)
    include_openapi(app, settings)
    include_docs(app, OPENAPI_PATH)
    include_page(app)
