"""Funnel and transit reports."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response

from app.api.deps import API, Ctx, ReportsDb
from app.api.problems import responses
from app.schemas.reports import FunnelQuery, FunnelReport, TransitReport
from app.services import exports, funnel_report, transit_report

router = APIRouter(prefix=f"{API}/reports", tags=["reports"])
ERRORS = (401, 403, 422, 500, 503)


@router.get(
    "/funnel",
    response_model=FunnelReport,
    responses={
        200: {"content": {"text/csv": {}}, "description": "JSON, or long-format CSV with HXL tags"},
        **responses(*ERRORS),
    },
    summary="Identified → submitted → in transit → resettled, in cases and people",
)
async def funnel(
    ctx: Ctx,
    db: ReportsDb,
    query: Annotated[FunnelQuery, Query()],
    format: Annotated[Literal["json", "csv"] | None, Query()] = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    report = await funnel_report.funnel(db, ctx.actor, query)
    if format == "csv" or (format is None and accept is not None and "text/csv" in accept):
        return Response(
            exports.funnel_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": exports.attachment(exports.funnel_filename(report))},
        )
    return Response(report.model_dump_json(by_alias=True), media_type="application/json")


@router.get(
    "/transit",
    response_model=TransitReport,
    responses=responses(*ERRORS),
    summary="Households in each transit country now, capacity, stays ending soon, overstays",
)
async def transit(request: Request, ctx: Ctx, read: ReportsDb) -> TransitReport:
    capacity = request.app.state.settings.transit_capacity
    return await transit_report.transit_report(read, ctx.db, ctx.actor, capacity, ctx.now)
