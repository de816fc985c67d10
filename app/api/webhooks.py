"""Webhook endpoints and their deliveries (admins only)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.api.deps import API, Ctx, adapter_for, parse_body
from app.api.openapi import json_body
from app.api.problems import responses
from app.schemas.common import Page
from app.schemas.webhooks import (
    DeliveryOut,
    WebhookCreate,
    WebhookCreated,
    WebhookOut,
    WebhookSecret,
    WebhookUpdate,
)
from app.services import webhooks

router = APIRouter(prefix=f"{API}/webhooks", tags=["webhooks"])
ERRORS = (401, 403, 422, 500, 503)
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=200)]


@router.post(
    "",
    status_code=201,
    response_model=WebhookCreated,
    responses=responses(*ERRORS, 413),
    openapi_extra=json_body("WebhookCreate", adapter_for(WebhookCreate)),
)
async def create_webhook(request: Request, ctx: Ctx) -> WebhookCreated:
    data = await parse_body(request, adapter_for(WebhookCreate))
    settings = request.app.state.settings
    row = await webhooks.create_endpoint(
        ctx.db,
        ctx.actor,
        data,
        ctx.now,
        secret_key=request.app.state.signing_key,
        allow_private=settings.webhook_allow_private,
    )
    return WebhookCreated.model_validate(row)


@router.get("", response_model=Page[WebhookOut], responses=responses(*ERRORS))
async def list_webhooks(ctx: Ctx, limit: Limit = 50, cursor: Cursor = None) -> Page[WebhookOut]:
    page = await webhooks.list_endpoints(ctx.db, ctx.actor, limit=limit, cursor=cursor)
    return Page[WebhookOut](
        items=[WebhookOut.model_validate(row) for row in page.items], next_cursor=page.next_cursor
    )


@router.get("/{webhook_id}", response_model=WebhookOut, responses=responses(*ERRORS, 404))
async def get_webhook(ctx: Ctx, webhook_id: uuid.UUID) -> WebhookOut:
    return WebhookOut.model_validate(await webhooks.get_endpoint(ctx.db, ctx.actor, webhook_id))


@router.patch(
    "/{webhook_id}",
    response_model=WebhookOut,
    responses=responses(*ERRORS, 404, 413),
    openapi_extra=json_body("WebhookUpdate", adapter_for(WebhookUpdate)),
)
async def update_webhook(request: Request, ctx: Ctx, webhook_id: uuid.UUID) -> WebhookOut:
    data = await parse_body(request, adapter_for(WebhookUpdate))
    row = await webhooks.update_endpoint(
        ctx.db,
        ctx.actor,
        webhook_id,
        data,
        ctx.now,
        allow_private=request.app.state.settings.webhook_allow_private,
    )
    return WebhookOut.model_validate(row)


@router.delete(
    "/{webhook_id}", status_code=204, response_class=Response, responses=responses(*ERRORS, 404)
)
async def delete_webhook(ctx: Ctx, webhook_id: uuid.UUID) -> Response:
    await webhooks.delete_endpoint(ctx.db, ctx.actor, webhook_id)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/rotate-secret", response_model=WebhookSecret, responses=responses(*ERRORS, 404)
)
async def rotate_webhook_secret(request: Request, ctx: Ctx, webhook_id: uuid.UUID) -> WebhookSecret:
    secret = await webhooks.rotate_secret(
        ctx.db, ctx.actor, webhook_id, ctx.now, secret_key=request.app.state.signing_key
    )
    return WebhookSecret(secret=secret)


@router.get(
    "/{webhook_id}/deliveries", response_model=Page[DeliveryOut], responses=responses(*ERRORS, 404)
)
async def list_webhook_deliveries(
    ctx: Ctx, webhook_id: uuid.UUID, limit: Limit = 50, cursor: Cursor = None
) -> Page[DeliveryOut]:
    page = await webhooks.list_deliveries(ctx.db, ctx.actor, webhook_id, limit=limit, cursor=cursor)
    return Page[DeliveryOut](
        items=[DeliveryOut.model_validate(row) for row in page.items], next_cursor=page.next_cursor
    )


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/retry",
    status_code=202,
    response_model=DeliveryOut,
    responses=responses(*ERRORS, 404, 409),
)
async def retry_webhook_delivery(
    ctx: Ctx, webhook_id: uuid.UUID, delivery_id: uuid.UUID
) -> DeliveryOut:
    row = await webhooks.retry_delivery(ctx.db, ctx.actor, webhook_id, delivery_id, ctx.now)
    return DeliveryOut.model_validate(row)
