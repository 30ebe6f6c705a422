"""The web page at / and its static files (plain HTML, CSS and JavaScript in app/static)."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

_STATIC_DIR = Path(__file__).resolve().parents[1] / "static"


def install_page(app: FastAPI) -> None:
    """Serve / and /static/ (open without an API key: the page asks for it)."""
    app.mount("/static", StaticFiles(directory=_STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(_STATIC_DIR / "index.html", media_type="text/html")
