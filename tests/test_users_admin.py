"""User administration (api.md "Auth and users"; issue 4, part 5): admins only; a country for
officers and for no one else; passwords of at least 12 characters; deactivation and password
changes end the user's tokens at once."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from app.models import User
from tests.factories import PASSWORD, Factory, TestUser

USERS = "/api/v1/users"
USER_KEYS = {"id", "username", "role", "country", "active", "created_at", "updated_at"}


async def create(
    client: httpx.AsyncClient, admin: TestUser, expect: int = 201, **body: Any
) -> dict[str, Any]:
    response = await client.post(USERS, json=body, headers=admin.headers)
    assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result


async def patch(
    client: httpx.AsyncClient, admin: TestUser, user_id: Any, expect: int = 200, **body: Any
) -> dict[str, Any]:
    response = await client.patch(f"{USERS}/{user_id}", json=body, headers=admin.headers)
    assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result


async def token(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/token", data={"username": username, "password": password}
    )


def bearer(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_an_admin_creates_users_who_can_sign_in(
    client: httpx.AsyncClient, make: Factory
) -> None:
    admin = await make.user("admin")
    made = await create(
        client, admin, username="officer.usa", password="twelve-chars", role="resettlement_officer",
        country="USA",
    )  # fmt: skip
    assert set(made) == USER_KEYS, "never the password or its hash"
    assert (made["role"], made["country"], made["active"]) == ("resettlement_officer", "USA", True)
    me = await client.get(
        "/api/v1/me", headers=bearer(await token(client, "officer.usa", "twelve-chars"))
    )
    assert me.json()["id"] == made["id"]
    for role in ("caseworker", "supervisor", "manager", "admin"):
        made = await create(client, admin, username=f"new_{role}", password=PASSWORD, role=role)
        assert made["country"] is None
    await create(client, admin, 409, username="new_manager", password=PASSWORD, role="manager")


async def test_only_admins_manage_users(client: httpx.AsyncClient, make: Factory) -> None:
    target = await make.user("caseworker")
    body = {"username": "someone_new", "password": PASSWORD, "role": "caseworker"}
    for role, country in (
        ("caseworker", None),
        ("supervisor", None),
        ("resettlement_officer", "USA"),
        ("transit_officer", "CRI"),
        ("manager", None),
    ):
        user = await make.user(role, country)
        answers = [
            await client.post(USERS, json=body, headers=user.headers),
            await client.get(USERS, headers=user.headers),
            await client.patch(
                f"{USERS}/{target.id}", json={"active": False}, headers=user.headers
            ),
            await client.patch(f"{USERS}/{user.id}", json={"role": "admin"}, headers=user.headers),
        ]
        for response in answers:
            assert response.status_code == 403, (role, response.request.url)
            assert response.json()["code"] == "forbidden"
    assert (await client.get("/api/v1/me", headers=target.headers)).status_code == 200
    assert (await client.post(USERS, json=body)).status_code == 401


async def test_country_is_for_officers_only(client: httpx.AsyncClient, make: Factory) -> None:
    admin = await make.user("admin")
    bad: list[dict[str, Any]] = [
        {"role": "resettlement_officer"},
        {"role": "transit_officer"},
        {"role": "resettlement_officer", "country": None},
        {"role": "caseworker", "country": "USA"},
        {"role": "supervisor", "country": "CRI"},
        {"role": "manager", "country": "USA"},
        {"role": "admin", "country": "USA"},
        {"role": "transit_officer", "country": "XXX"},
        {"role": "transit_officer", "country": "cri"},
        {"role": "transit_officer", "country": "CR"},
        {"role": "director"},
    ]
    for fields in bad:
        problem = await create(client, admin, 422, username="x_user", password=PASSWORD, **fields)
        assert problem["code"] == "validation_error", fields
    listed = (await client.get(USERS, headers=admin.headers)).json()["items"]
    assert [u["username"] for u in listed] == [admin.username], "nothing was created"


async def test_passwords_have_at_least_twelve_characters(
    client: httpx.AsyncClient, make: Factory
) -> None:
    admin = await make.user("admin")
    user = await make.user("caseworker")
    await create(client, admin, 422, username="short_pw", password="elevenchars", role="manager")
    await create(client, admin, 201, username="long_pw", password="twelve chars", role="manager")
    await patch(client, admin, user.id, 422, password="elevenchars")
    await patch(client, admin, user.id, 422, password="")
    await patch(client, admin, user.id, 200, password="a good new password")


async def test_bodies_are_checked_strictly(client: httpx.AsyncClient, make: Factory) -> None:
    admin = await make.user("admin")
    user = await make.user("caseworker")
    base = {"username": "strict_user", "password": PASSWORD, "role": "caseworker"}
    for extra in ({"active": False}, {"id": str(uuid.uuid4())}, {"token_generation": 3}):
        await create(client, admin, 422, **base, **extra)
    await create(client, admin, 422, **{**base, "username": "a b"})
    await create(client, admin, 422, **{**base, "username": "ab"})
    for body in ({}, {"role": None}, {"active": None}, {"password": None}, {"active": "no"}):
        await patch(client, admin, user.id, 422, **body)
    await patch(client, admin, user.id, 422, username="renamed")
    await patch(client, admin, uuid.uuid4(), 404, active=False)
    response = await client.patch(
        f"{USERS}/not-an-id", json={"active": False}, headers=admin.headers
    )
    assert response.status_code == 422


async def test_users_are_listed_in_pages(client: httpx.AsyncClient, make: Factory) -> None:
    admin = await make.user("admin")
    made = [await make.user("caseworker") for _ in range(4)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = await client.get(USERS, params=params, headers=admin.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        for item in page["items"]:
            assert set(item) == USER_KEYS
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted([str(admin.id)] + [str(u.id) for u in made])
    assert len(seen) == len(set(seen))
    for params in ({"cursor": "garbage"}, {"limit": 0}, {"limit": 201}, {"role": "admin"}):
        response = await client.get(USERS, params=params, headers=admin.headers)
        assert response.status_code == 422, params


async def test_deactivation_ends_the_users_tokens_at_once(
    client: httpx.AsyncClient, make: Factory
) -> None:
    admin = await make.user("admin")
    user = await make.user("supervisor")
    signed_in = bearer(await token(client, user.username, PASSWORD))
    assert (await client.get("/api/v1/cases", headers=signed_in)).status_code == 200
    assert (await patch(client, admin, user.id, active=False))["active"] is False
    for headers in (user.headers, signed_in):
        response = await client.get("/api/v1/cases", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert (await token(client, user.username, PASSWORD)).status_code == 401

    # Reactivated: new sign-ins work; the tokens from before stay dead.
    assert (await patch(client, admin, user.id, active=True))["active"] is True
    for headers in (user.headers, signed_in):
        assert (await client.get("/api/v1/me", headers=headers)).status_code == 401
    fresh = bearer(await token(client, user.username, PASSWORD))
    assert (await client.get("/api/v1/me", headers=fresh)).status_code == 200


async def test_a_password_change_ends_the_old_tokens(
    client: httpx.AsyncClient, make: Factory
) -> None:
    admin = await make.user("admin")
    user = await make.user("caseworker")
    old = bearer(await token(client, user.username, PASSWORD))
    await patch(client, admin, user.id, password="the new password, long")
    for headers in (user.headers, old):
        assert (await client.get("/api/v1/me", headers=headers)).status_code == 401
    assert (await token(client, user.username, PASSWORD)).status_code == 401
    new = bearer(await token(client, user.username, "the new password, long"))
    assert (await client.get("/api/v1/me", headers=new)).json()["id"] == str(user.id)
    # Other changes leave tokens alone.
    await patch(client, admin, user.id, role="supervisor")
    assert (await client.get("/api/v1/me", headers=new)).json()["role"] == "supervisor"


async def test_role_and_country_change_together(client: httpx.AsyncClient, make: Factory) -> None:
    admin = await make.user("admin")
    worker = await make.user("caseworker")
    officer = await make.user("resettlement_officer", "USA")
    await patch(client, admin, worker.id, 422, role="transit_officer")
    await patch(client, admin, worker.id, 422, country="CRI")
    moved = await patch(client, admin, worker.id, role="transit_officer", country="CRI")
    assert (moved["role"], moved["country"]) == ("transit_officer", "CRI")
    assert (await patch(client, admin, officer.id, country="CAN"))["country"] == "CAN"
    await patch(client, admin, officer.id, 422, country=None)
    await patch(client, admin, officer.id, 422, role="transit_officer")  # a new role, no country
    await patch(client, admin, officer.id, 422, role="manager", country="CAN")
    demoted = await patch(client, admin, officer.id, role="manager")
    assert (demoted["role"], demoted["country"]) == ("manager", None), "the country goes too"


async def test_the_last_active_admin_stays(client: httpx.AsyncClient, make: Factory) -> None:
    admin = await make.user("admin")
    problem = await patch(client, admin, admin.id, 409, active=False)
    assert problem["code"] == "conflict"
    await patch(client, admin, admin.id, 409, role="supervisor")
    second = await make.user("admin")
    await patch(client, second, admin.id, active=False)
    await patch(client, second, second.id, 409, role="manager")
    assert (await client.get(USERS, headers=second.headers)).status_code == 200


async def test_two_admins_cannot_remove_each_other_at_once(
    client: httpx.AsyncClient, make: Factory, engine: AsyncEngine
) -> None:
    """Of two admins deactivating each other at the same moment, one stays (on PostgreSQL the
    two requests really run at once: the check must not count a stale set of admins)."""
    for _ in range(5):
        async with engine.begin() as conn:  # only this round's two admins are active
            await conn.execute(update(User).where(User.role == "admin").values(active=False))
        first, second = await make.user("admin"), await make.user("admin")
        answers = await asyncio.gather(
            client.patch(f"{USERS}/{first.id}", json={"active": False}, headers=second.headers),
            client.patch(f"{USERS}/{second.id}", json={"active": False}, headers=first.headers),
        )
        # The loser is refused (409), or was already deactivated when it signed in (401).
        assert sorted(a.status_code for a in answers) in ([200, 401], [200, 409]), answers
        async with engine.connect() as conn:
            active = await conn.execute(
                select(func.count()).where(User.role == "admin", User.active.is_(True))
            )
            assert active.scalar_one() == 1
