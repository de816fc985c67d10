"""The first slice: health, sign-in, me, creating and reading a case."""

from __future__ import annotations

import httpx

from tests.factories import PASSWORD, Factory, case_body


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


async def test_sign_in_then_create_and_read_a_case(
    client: httpx.AsyncClient, make: Factory
) -> None:
    worker = await make.user("caseworker")
    token = await client.post(
        "/api/v1/auth/token", data={"username": worker.username, "password": PASSWORD}
    )
    assert token.status_code == 200
    body = token.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 1800
    headers = {"Authorization": f"Bearer {body['access_token']}"}

    me = await client.get("/api/v1/me", headers=headers)
    assert me.json() == {
        "id": str(worker.id),
        "username": worker.username,
        "role": "caseworker",
        "country": None,
        "active": True,
    }

    created = await client.post("/api/v1/cases", json=case_body(), headers=headers)
    assert created.status_code == 201
    case = created.json()
    assert created.headers["ETag"] == '"1"'
    assert created.headers["Location"] == f"/api/v1/cases/{case['id']}"
    assert case["reference"].startswith("PTA-SLV-")
    assert case["status"] == "identified" and case["stage"] == "identification"
    assert len(case["members"]) == 2

    read = await client.get(created.headers["Location"], headers=headers)
    assert read.status_code == 200
    assert read.json() == case
