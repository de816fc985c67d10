"""``/docs``: Swagger UI served by the service itself (its files come from the swagger-ui-py
package, nothing from a CDN), under the dashboard's strict Content-Security-Policy: the page
has no inline script or style, its start-up script is our own file. One difference: Swagger
UI's style sheet draws its icons as ``data:`` SVG images, so images may also be ``data:``."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.api.dashboard import CSP, SECURITY_HEADERS
from app.api.problems import problem, responses

OURS = Path(__file__).resolve().parent.parent / "docs"
#: the only files served under /docs/, with their media types and where they come from
ASSETS = {
    "swagger-ui.css": ("text/css; charset=utf-8", "swagger_ui"),
    "swagger-ui-bundle.js": ("text/javascript; charset=utf-8", "swagger_ui"),
    "favicon-32x32.png": ("image/png", "swagger_ui"),
    "docs.js": ("text/javascript; charset=utf-8", "ours"),
    "docs.css": ("text/css; charset=utf-8", "ours"),
}

HEADERS = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": CSP.replace("img-src 'self'", "img-src 'self' data:"),
}
router = APIRouter(include_in_schema=False)


@cache
def _read(name: str) -> bytes:
    if ASSETS[name][1] == "ours":
        return (OURS / name).read_bytes()
    return files("swagger_ui").joinpath("static", name).read_bytes()


@router.get("/docs")
async def page() -> Response:
    return Response(_read_page(), media_type="text/html; charset=utf-8", headers=HEADERS)


@cache
def _read_page() -> bytes:
    return (OURS / "index.html").read_bytes()


@router.get("/docs/{asset}", responses=responses(404))
async def asset(asset: str, request: Request) -> Response:
    if asset not in ASSETS:
        return problem(
            404, "not_found", "Nothing is served at this path.", instance=request.url.path
        )
    return Response(_read(asset), media_type=ASSETS[asset][0], headers=HEADERS)
