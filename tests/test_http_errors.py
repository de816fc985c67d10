"""Every error is application/problem+json with a stable code, and no internals."""

from __future__ import annotations

import httpx
import pytest

from tests.common import assert_problem
from tests.factories import Factory


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/cases"),
        ("POST", "/api/v1/cases"),
        ("GET", "/api/v1/reports/funnel"),
        ("GET", "/api/v1/audit/access-log"),
        ("GET", "/api/v1/users"),
    ],
)
async def test_no_token_is_401_with_bearer_challenge(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path)
    assert_problem(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_401_comes_before_validation(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/cases", content=b"{broken", headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 401, "unauthorized")
    unknown = await client.get("/api/v1/cases?colour=blue")
    assert_problem(unknown, 401, "unauthorized")


async def test_unknown_path_is_404_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/nothing-here"), 404, "not_found")


async def test_wrong_method_is_405_with_allow(client: httpx.AsyncClient, make: Factory) -> None:
    worker = await make.user("caseworker")
    response = await client.delete("/api/v1/cases", headers=worker.headers)
    assert_problem(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    one = await client.put(f"/api/v1/cases/{worker.id}", headers=worker.headers)
    assert_problem(one, 405, "method_not_allowed")
    assert {"GET", "PATCH"} <= set(one.headers["Allow"].replace(" ", "").split(","))


async def test_unknown_query_parameter_is_422(client: httpx.AsyncClient, make: Factory) -> None:
    worker = await make.user("caseworker")
    response = await client.get("/api/v1/cases?stauts=submitted", headers=worker.headers)
    body = assert_problem(response, 422, "validation_error")
    assert "stauts" in str(body["detail"])


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=201",
        "limit=ten",
        "status=lost",
        "stage=limbo",
        "origin_country=ZZZ",
        "identified_from=2020-02-30",
        "updated_since=yesterday",
        "cursor=not-a-cursor",
        "identified_from=2021-01-01&identified_to=2020-01-01",
    ],
)
async def test_bad_list_parameters_are_422(
    client: httpx.AsyncClient, make: Factory, query: str
) -> None:
    worker = await make.user("caseworker")
    response = await client.get(f"/api/v1/cases?{query}", headers=worker.headers)
    assert_problem(response, 422, "validation_error")


async def test_body_over_one_mebibyte_is_413(client: httpx.AsyncClient, make: Factory) -> None:
    worker = await make.user("caseworker")
    big = b'{"origin_country": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    response = await client.post(
        "/api/v1/cases", content=big, headers={**worker.headers, "Content-Type": "application/json"}
    )
    assert_problem(response, 413, "payload_too_large")


async def test_request_id_is_returned(client: httpx.AsyncClient) -> None:
    given = "7f3c9a1e-2b4d-4e6f-8a0b-1c2d3e4f5a6b"
    mine = await client.get("/healthz", headers={"X-Request-ID": given})
    assert mine.headers["X-Request-ID"] == given
    made = await client.get("/healthz")
    assert len(made.headers["X-Request-ID"]) >= 16
