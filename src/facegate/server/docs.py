"""The API documentation page, Swagger UI at ``/docs``, served from local files.

FastAPI's own page loads Swagger UI from a CDN, so without internet ``/docs`` is a blank page.
The same page is served here with its JavaScript and CSS from the ``fastapi-offline`` package
(Swagger UI 5, which reads OpenAPI 3.1; ``swagger-ui-bundle`` ships Swagger UI 4, which does
not), under ``/docs/assets``; nothing is fetched from elsewhere. ReDoc is not offered: its
page fetches its logo from a CDN.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs/assets"


def assets_dir() -> Path:
    """The folder holding ``swagger-ui-bundle.js``, ``swagger-ui.css`` and ``favicon.png``."""
    return Path(str(resources.files("fastapi_offline") / "static"))


def install(app: FastAPI) -> None:
    """Add ``/docs`` and its assets (create the app with ``docs_url=None``)."""
    title = f"{app.title} API"
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
        )

    app.mount(ASSETS, StaticFiles(directory=assets_dir()), name="docs-assets")
