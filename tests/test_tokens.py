"""Bearer tokens (api.md "Conventions"; issue 4, part 6): every forged, altered, expired or
incomplete token answers 401 with ``WWW-Authenticate: Bearer``, and a good token never grants
more than the user row says now."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from jose import jwt

from app import security
from tests.conftest import SECRET
from tests.factories import Factory, TestUser

ME = "/api/v1/me"
CLAIMS = ("exp", "iat", "sub", "aud", "iss", "jti")


def claims_for(user: TestUser, **changes: Any) -> dict[str, Any]:
    """The claims the service signs for this user (one of them changed or dropped)."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(user.id),
        "role": str(user.role),
        "gen": 0,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=30)).timestamp()),
        "iss": security.ISSUER,
        "aud": security.AUDIENCE,
        "jti": uuid.uuid4().hex,
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def sign(claims: dict[str, Any], key: str = SECRET, algorithm: str = "HS256") -> str:
    return str(jwt.encode(claims, key, algorithm=algorithm))


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def refused(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for path in (ME, "/api/v1/cases", "/api/v1/users"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 401, (path, response.text)
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "unauthorized"


async def test_the_crafted_baseline_token_is_accepted(
    client: httpx.AsyncClient, make: Factory
) -> None:
    """Each attack below differs from this token in one thing only."""
    user = await make.user("caseworker")
    response = await client.get(ME, headers=bearer(sign(claims_for(user))))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == str(user.id)


@pytest.mark.parametrize("claim", CLAIMS)
async def test_a_token_missing_a_required_claim_is_refused(
    client: httpx.AsyncClient, make: Factory, claim: str
) -> None:
    user = await make.user("caseworker")
    await refused(client, bearer(sign(claims_for(user, **{claim: None}))))


ATTACKS: dict[str, Any] = {
    "expired": lambda c: {
        **c,
        "iat": c["iat"] - 3600,
        "exp": c["iat"] - 60,
    },
    "wrong audience": lambda c: {**c, "aud": "another-api"},
    "wrong issuer": lambda c: {**c, "iss": "someone-else"},
    "subject not a user id": lambda c: {**c, "sub": "admin"},
    "subject of no user": lambda c: {**c, "sub": str(uuid.uuid4())},
    "exp not a number": lambda c: {**c, "exp": "tomorrow"},
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
async def test_a_well_signed_token_with_bad_claims_is_refused(
    client: httpx.AsyncClient, make: Factory, attack: str
) -> None:
    user = await make.user("caseworker")
    await refused(client, bearer(sign(ATTACKS[attack](claims_for(user)))))


async def test_forged_and_altered_tokens_are_refused(
    client: httpx.AsyncClient, make: Factory
) -> None:
    user = await make.user("caseworker")
    claims = claims_for(user)
    good = sign(claims)
    header, payload, signature = good.split(".")
    admin_claims = {**claims, "role": "admin"}
    forged: dict[str, str] = {
        "garbage": "not-a-token",
        "three garbage parts": "aaa.bbb.ccc",
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "alg None with a signature": f"{b64({'alg': 'None', 'typ': 'JWT'})}.{payload}.{signature}",
        "re-signed with another key": sign(claims, key="another-key-" + "x" * 40),
        "right key, algorithm not allowed": sign(claims, algorithm="HS512"),
        "payload tampered (role)": f"{header}.{b64(admin_claims)}.{signature}",
        "payload tampered (subject)": (
            f"{header}.{b64({**claims, 'sub': str(uuid.uuid4())})}.{signature}"
        ),
        "signature tampered": f"{header}.{payload}.{signature[:-4]}AAAA",
        "signature stripped": f"{header}.{payload}.",
        "empty": "",
    }
    for name, token in forged.items():
        try:
            await refused(client, bearer(token))
        except AssertionError as error:
            raise AssertionError(f"{name}: {error}") from None
    assert (await client.get(ME, headers=bearer(good))).status_code == 200


async def test_no_token_or_another_scheme_is_refused(client: httpx.AsyncClient) -> None:
    await refused(client, {})
    await refused(client, {"Authorization": "Basic YWRtaW46YWRtaW4="})
    await refused(client, {"Authorization": "Bearer"})


async def test_a_deactivated_users_token_fails_at_once(
    client: httpx.AsyncClient, make: Factory
) -> None:
    user = await make.user("supervisor")
    admin = await make.user("admin")
    assert (await client.get(ME, headers=user.headers)).status_code == 200
    response = await client.patch(
        f"/api/v1/users/{user.id}", json={"active": False}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    await refused(client, user.headers)


async def test_a_token_never_grants_more_than_the_user_row(
    client: httpx.AsyncClient, make: Factory
) -> None:
    user = await make.user("caseworker")
    admin = await make.user("admin")
    # A token (validly signed) that claims a higher role gives nothing more.
    claims_admin = bearer(sign(claims_for(user, role="admin")))
    assert (await client.get(ME, headers=claims_admin)).json()["role"] == "caseworker"
    assert (await client.get("/api/v1/users", headers=claims_admin)).status_code == 403
    assert (await client.get("/api/v1/audit/access-log", headers=claims_admin)).status_code == 403

    # A role change takes effect at once, for the token already issued.
    assert (await client.get("/api/v1/cases", headers=user.headers)).status_code == 200
    response = await client.patch(
        f"/api/v1/users/{user.id}", json={"role": "manager"}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    assert (await client.get(ME, headers=user.headers)).json()["role"] == "manager"
    assert (await client.get("/api/v1/cases", headers=user.headers)).status_code == 403

    # An officer moved to another country acts for the new country at once.
    officer = await make.user("resettlement_officer", "USA")
    response = await client.patch(
        f"/api/v1/users/{officer.id}", json={"country": "CAN"}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    assert (await client.get(ME, headers=officer.headers)).json()["country"] == "CAN"


async def test_a_token_of_another_generation_is_refused(
    client: httpx.AsyncClient, make: Factory
) -> None:
    """Tokens issued before a password change carry the old generation."""
    user = await make.user("caseworker")
    await refused(client, bearer(sign(claims_for(user, gen=1))))
    await refused(client, bearer(sign(claims_for(user, gen=None))))
    await refused(client, bearer(sign(claims_for(user, gen="zero"))))
