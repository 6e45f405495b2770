"""The page at `/`: one HTML file, its JavaScript module and its style sheet, served as they
are (no build step). It talks to the region API only: /v1/model and /classify-regions."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def include_page(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/page", StaticFiles(directory=STATIC), name="page")
