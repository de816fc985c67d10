"""create_app(): routers, problem handlers, middleware and the engine's lifetime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.ext.asyncio import AsyncEngine

from app import migrate
from app.api import (
    audit,
    auth,
    cases,
    dashboard,
    docs,
    metrics,
    openapi,
    ops,
    problems,
    reports,
    users,
    webhooks,
)
from app.api.middleware import RequestMiddleware
from app.config import Settings, get_settings
from app.db import Database, make_engine
from app.services import delivery, funnel_rollup, retention, seals

#: Connections a worker's background work holds at most on PostgreSQL, besides the requests'
#: PTA_POOL_SIZE (docs/deployment.md "Connections").
JOBS_POOL_SIZE = 4


def _jobs_engine(database: Database, settings: Settings) -> AsyncEngine:
    """The background work's own engine on PostgreSQL, with a pool of its own: a seal or a
    verify may read a whole table (no client-side statement limit) and no request waits for
    its connections. (Webhook delivery's short transactions, one at a time per worker, take
    the requests' fast path instead: ``Database.transaction``.)"""
    if database.engine.dialect.name != "postgresql":
        return database.engine
    return make_engine(settings.database_url, settings, pool_size=JOBS_POOL_SIZE, jobs=True)


def _background_work(
    database: Database, engine: AsyncEngine, settings: Settings
) -> list[Coroutine[Any, Any, None]]:
    """What each worker does besides serving (each off when its period is 0): deliver the
    webhook messages (in the ``database``'s transactions), and on the jobs ``engine`` fold
    the funnel deltas, seal the access log and the chains, apply the retention rule."""
    work = []
    if settings.webhook_poll_seconds:
        config = delivery.DeliveryConfig.from_settings(settings)
        work.append(
            delivery.deliver_forever(database.transaction, config, settings.webhook_poll_seconds)
        )
    if settings.funnel_fold_seconds:
        work.append(funnel_rollup.fold_forever(engine, settings.funnel_fold_seconds))
    if settings.seal_seconds:
        work.append(seals.seal_forever(engine, settings.seal_seconds))
    if settings.retention_interval_seconds:
        days, every = settings.retention_days, settings.retention_interval_seconds
        work.append(retention.retention_forever(engine, days, every))
    return work


def _lifespan(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The databases (a read replica for reports, if configured) and the background work of
    one worker process, for as long as it serves."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings.database_url, settings)
        reports = (
            Database(settings.reports_database_url, settings, optional=True)
            if settings.reports_database_url
            else database
        )
        for each in {database, reports}:
            await each.start()
        app.state.database, app.state.reports_database = database, reports
        app.state.engine = database.engine  # SQLAlchemy, for work outside requests
        jobs = _jobs_engine(database, settings)
        background = [
            asyncio.create_task(work) for work in _background_work(database, jobs, settings)
        ]
        try:
            yield
        finally:
            for task in background:
                task.cancel()
            if jobs is not database.engine:
                await jobs.dispose()
            for each in {database, reports}:
                await each.close()

    return lifespan


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    signing_key = settings.signing_key()  # refuse to start without a usable key

    app = FastAPI(
        title="PTA case service",
        version="1.0.0",
        description=(
            "Case management for the Protection Transfer Arrangement: UNHCR identifies people "
            "at imminent risk, submits them to a resettlement state, moves them through a "
            "transit country and resettles them. Errors are application/problem+json."
        ),
        lifespan=_lifespan(settings),
        docs_url=None,  # app/api/docs.py serves Swagger UI's files itself (no CDN)
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs else None,
        redirect_slashes=False,  # a trailing slash is a 404, never a redirect to the Host given
    )
    app.state.settings = settings
    app.state.signing_key = signing_key
    app.state.head_revision = migrate.head_revision(settings)

    routers = [
        auth.router,
        auth.me_router,
        users.router,
        webhooks.router,
        cases.router,
        reports.router,
        audit.router,
        ops.router,
        metrics.router,
        dashboard.router,
        *([docs.router] if settings.docs else []),
    ]
    for router in routers:
        app.include_router(router)
    #: every route with its full path template (for the Allow header of a 405)
    app.state.routes = [route for router in routers for route in router.routes]

    problems.install(app)
    openapi.install(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "Idempotency-Key"],
            expose_headers=["ETag", "Location", "X-Request-ID", "Retry-After"],
        )
    app.add_middleware(RequestMiddleware, max_requests=settings.max_concurrent_requests)
    return app
