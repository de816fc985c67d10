"""PTA_REPORTS_DATABASE_URL: a read replica that is down makes the reports answer 503
problem+json — never a 500, never a service that cannot start — while cases keep working."""

from __future__ import annotations

import socket

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.main import create_app
from tests.common import assert_problem
from tests.factories import Factory


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def with_replica_down(migrated: Settings) -> Settings:
    if not migrated.database_url.startswith("postgres"):
        pytest.skip("a read replica is PostgreSQL only")
    replica = f"postgresql://pta_reports@127.0.0.1:{closed_port()}/pta"
    return migrated.model_copy(update={"reports_database_url": replica})


async def test_a_replica_starts_and_serves_cases_while_the_read_replica_is_down(
    with_replica_down: Settings, engine: AsyncEngine
) -> None:
    replica_app = create_app(with_replica_down)
    async with replica_app.router.lifespan_context(replica_app):  # starts: no connection yet
        transport = httpx.ASGITransport(app=replica_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://pta.test") as http:
            make = Factory(http, replica_app.state.engine, with_replica_down.signing_key())
            worker, manager = await make.user("caseworker"), await make.user("manager")
            assert (await http.get("/readyz")).status_code == 200
            case = await make.case(worker)
            read = await http.get(f"/api/v1/cases/{case['id']}", headers=worker.headers)
            assert read.status_code == 200
            for report in ("funnel", "transit"):
                answer = await http.get(f"/api/v1/reports/{report}", headers=manager.headers)
                assert_problem(answer, 503, "service_unavailable")
                assert answer.headers["retry-after"] == "5"
