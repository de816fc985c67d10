"""Liveness and readiness, for load balancers and orchestrators (no auth)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app import migrate
from app.api.problems import problem, responses

log = logging.getLogger("pta.ops")
router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="200 while the process runs")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="200 when the database answers at the newest schema",
    response_model=None,
    responses=responses(503),
)
async def readyz(request: Request) -> Response | dict[str, str]:
    state = request.app.state
    try:
        async with state.engine.connect() as conn:
            current = await migrate.current_revision(conn)
    except Exception as error:  # any failure to reach or read the database means "not ready"
        log.warning("not ready: the database did not answer", extra={"error": type(error).__name__})
        current = None
    if current is None or current != state.head_revision:
        return problem(
            503,
            "service_unavailable",
            "The database is unreachable or not at the newest migration.",
            instance=request.url.path,
            headers={"Retry-After": "5"},
        )
    return {"status": "ready", "schema": current}
