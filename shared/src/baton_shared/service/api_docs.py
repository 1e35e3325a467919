"""``/docs`` served with its own Swagger UI: the API documentation opens with no internet access.

FastAPI's default page loads Swagger UI's script and styles from a public CDN, so on a
machine that cannot reach it ``/docs`` is blank. The files come from a pinned package
instead (``swagger_ui_bundle.swagger_ui_path``, Swagger UI 5, which reads the OpenAPI
3.1 documents FastAPI writes) and are served under ``/docs/assets/``; the page itself
is FastAPI's own ``get_swagger_ui_html`` pointed at them. Open like ``/openapi.json``.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from swagger_ui_bundle import swagger_ui_path

DOCS_URL = "/docs"
ASSETS_URL = "/docs/assets"
# The only files served: what the page loads, nothing else from the package's folder.
ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css", "favicon-32x32.png": "image/png"}
CACHE = "public, max-age=86400"  # the URLs carry the package's version: a new one is a new URL


def install_api_docs(app: FastAPI) -> None:
    """``/docs`` (and its OAuth2 redirect page) on ``app``, created with ``docs_url=None``."""
    folder = Path(str(swagger_ui_path))
    missing = [name for name in ASSETS if not (folder / name).is_file()]
    if missing:
        raise RuntimeError(
            f"the Swagger UI package at {folder} lacks {', '.join(missing)}: reinstall swagger-ui-bundle-v2"
        )
    tag = version("swagger-ui-bundle-v2")
    redirect_url = app.swagger_ui_oauth2_redirect_url or f"{DOCS_URL}/oauth2-redirect"

    @app.get(DOCS_URL, include_in_schema=False)
    async def api_docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - API documentation",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js?v={tag}",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css?v={tag}",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon-32x32.png?v={tag}",
            oauth2_redirect_url=f"{root}{redirect_url}",
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    @app.get(redirect_url, include_in_schema=False)
    async def api_docs_oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(ASSETS_URL + "/{name}", include_in_schema=False)
    async def api_docs_asset(name: str) -> Response:
        if name not in ASSETS:
            return JSONResponse({"detail": f"no documentation asset {name!r}; there are: {', '.join(ASSETS)}"}, 404)
        return FileResponse(folder / name, media_type=ASSETS[name], headers={"Cache-Control": CACHE})
