"""GET /metrics: Prometheus text format, no auth (keep it off the public interface)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4

from app.metrics import DomainGauges, request_metrics

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    summary="Prometheus metrics: requests by route template and status, and domain gauges",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def metrics(request: Request) -> Response:
    state = request.app.state
    gauges: DomainGauges | None = getattr(state, "domain_gauges", None)
    if gauges is None:
        gauges = state.domain_gauges = DomainGauges()
    requests = await asyncio.to_thread(request_metrics)  # multiprocess files: blocking reads
    domain = await gauges.render(state.engine, state.settings.transit_capacity)
    return Response(requests + domain, media_type=CONTENT_TYPE_PLAIN_0_0_4)
