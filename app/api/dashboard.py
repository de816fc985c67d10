"""The manager dashboard: one static page and its own script, style and translations.

Nothing is loaded from outside the service; the page needs no auth (the data calls carry the
token the page obtains), and every answer carries a strict Content-Security-Policy."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response

from app.api.problems import problem, responses

STATIC = Path(__file__).resolve().parent.parent / "dashboard"
LANGUAGES = ("en", "es")

#: the only files served under /dashboard/, with their media types
ASSETS = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "i18n.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}

CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}

router = APIRouter(tags=["dashboard"])
_LANGUAGE_RANGE = re.compile(r"^\s*([A-Za-z]{1,8}|\*)(?:-[A-Za-z0-9]{1,8})*\s*$")


def preferred_language(accept_language: str | None) -> str:
    """The best of our languages for an ``Accept-Language`` header (RFC 9110 q-values)."""
    best, best_q = LANGUAGES[0], 0.0
    for position, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.partition(";")
        match = _LANGUAGE_RANGE.match(tag)
        if match is None:
            continue
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        primary = match.group(1).lower()
        # earlier entries win ties: nudge by position
        score = q - position * 1e-6
        if primary in LANGUAGES and q > 0 and score > best_q:
            best, best_q = primary, score
    return best


@cache
def _read(name: str) -> bytes:
    return (STATIC / name).read_bytes()


@router.get(
    "/dashboard",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}, "description": "The dashboard page"}},
    summary="Manager dashboard (HTML; signs in and calls the report endpoints)",
)
async def page(accept_language: Annotated[str | None, Header()] = None) -> Response:
    language = preferred_language(accept_language)
    html = _read("index.html").replace(b'<html lang="en">', f'<html lang="{language}">'.encode(), 1)
    headers = {**SECURITY_HEADERS, "Vary": "Accept-Language", "Content-Language": language}
    return Response(html, media_type="text/html; charset=utf-8", headers=headers)


@router.get(
    "/dashboard/{asset}",
    response_class=Response,
    responses={200: {"description": "A script, style sheet or icon of the page"}, **responses(404)},
    summary="The dashboard's own script, style sheet, translations and icon",
)
async def asset(asset: str, request: Request) -> Response:
    media_type = ASSETS.get(asset)
    if media_type is None:
        return problem(
            404, "not_found", "Nothing is served at this path.", instance=request.url.path
        )
    return Response(_read(asset), media_type=media_type, headers=SECURITY_HEADERS)
