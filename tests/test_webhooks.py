"""Outbound notifications (domain.md "Outbound notifications (webhooks)", api.md "Webhooks
(admin)"; issue 14): an admin subscribes a user's system, which then receives a signed, thin
message for each new case event that user may see — and nothing else.

Every message goes to a real HTTP receiver on 127.0.0.1 started by the test, and every
signature is checked with the ``standardwebhooks`` library (written by others, from the same
specification). Delivery runs when a test says so (``deliver``), with no backoff unless the
test is about the backoff, and a short timeout where a test is about timeouts;
tests/test_webhooks_live.py runs it inside ``pta serve``."""

from __future__ import annotations

import ipaddress
import logging
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks.webhooks import WebhookVerificationError

from app.config import Settings
from app.db import SqlaDb, engine_transactions
from app.main import create_app
from app.models import WebhookMessage
from app.schemas.webhooks import EVENT_ACTIONS
from app.services import delivery, history, webhook_targets
from app.services.policy import Actor
from app.vocabulary import RequirementItem, Role
from tests.common import assert_problem, days
from tests.conftest import SECRET
from tests.factories import Factory, TestUser
from tests.lifecycle_helpers import (
    ACCEPT,
    ACCEPT_SPLIT,
    ANSWER,
    ASK,
    AUTHORISE_CRI,
    CLEAR,
    CLOSE,
    DEPART,
    ENTER_CRI,
    HOLD,
    REOPEN,
    REQUEST_CRI,
    REVIEW,
    SPLIT,
    START,
    SUBMIT_USA,
    WITHDRAW,
    Driver,
    ScenarioStep,
    make_cast,
    submission,
)
from tests.live_server import ROOT, pta_command
from tests.webhook_receiver import Answer, Receiver, receiving

WEBHOOKS = "/api/v1/webhooks"
#: what a test delivers with: no backoff (a retry is due at once), three attempts, the
#: receiver on 127.0.0.1 allowed, and a timeout a loaded test machine still answers within
CONFIG = delivery.DeliveryConfig(
    backoff_seconds=0, max_attempts=3, allow_private=True, secret_key=SECRET, timeout_seconds=5
)
#: for the tests about timeouts: the receiver answers after SLOW seconds, too late
IMPATIENT = replace(CONFIG, timeout_seconds=1.5)
SLOW = 3.5
ENDPOINT_KEYS = {"id", "user_id", "url", "actions", "active", "description"}
DELIVERY_KEYS = {
    "id",
    "event_id",
    "type",
    "status",
    "attempts",
    "last_attempt_at",
    "last_status_code",
    "next_attempt_at",
}
DATA_KEYS = {"event_id", "case_id", "reference", "action", "from_status", "to_status", "at"}
#: what the test cases hold that a message must never carry (tests/factories.py)
PERSONAL = ("Ana", "Lopez", "Luis", "1990-02-03", "2015-06-01", "gang", "outreach", "Who is")


@pytest.fixture(scope="module")
async def hook_app(migrated: Settings) -> AsyncIterator[FastAPI]:
    """The service with the default checklist, allowing the receiver on 127.0.0.1."""
    settings = migrated.model_copy(
        update={"webhook_allow_private": True, "departure_requirements": tuple(RequirementItem)}
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def hooks(hook_app: FastAPI, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=hook_app, client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://pta.test") as http:
        yield http


@pytest.fixture
async def drive(hooks: httpx.AsyncClient, engine: AsyncEngine) -> Driver:
    make = Factory(hooks, engine, SECRET)
    return Driver(hooks, make, await make_cast(make))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as running:
        yield running


async def deliver(engine: AsyncEngine, config: delivery.DeliveryConfig = CONFIG) -> int:
    return await delivery.deliver_until_idle(engine_transactions(engine), config)


async def subscribe(
    http: httpx.AsyncClient,
    admin: TestUser,
    user: TestUser,
    url: str,
    expect: int = 201,
    **extra: Any,
) -> dict[str, Any]:
    response = await http.post(
        WEBHOOKS, json={"user_id": str(user.id), "url": url, **extra}, headers=admin.headers
    )
    assert response.status_code == expect, response.text
    body: dict[str, Any] = response.json()
    return body


async def deliveries(
    http: httpx.AsyncClient, admin: TestUser, endpoint: dict[str, Any]
) -> list[dict[str, Any]]:
    response = await http.get(
        f"{WEBHOOKS}/{endpoint['id']}/deliveries", params={"limit": 200}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    for item in items:
        assert set(item) == DELIVERY_KEYS
    return items


async def endpoint_now(
    http: httpx.AsyncClient, admin: TestUser, endpoint: dict[str, Any]
) -> dict[str, Any]:
    response = await http.get(f"{WEBHOOKS}/{endpoint['id']}", headers=admin.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def visible_events(drive: Driver, user: TestUser, case_id: str) -> list[dict[str, Any]]:
    """The case's events as ``user`` may see them now (none when the case is out of scope)."""
    response = await drive.client.get(
        f"/api/v1/cases/{case_id}/events", params={"limit": 200}, headers=user.headers
    )
    if response.status_code == 404:
        return []
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def message_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return await message_count_in(conn)


def check_message(received: Any, secret: str) -> dict[str, Any]:
    """Signed as Standard Webhooks says (the library accepts it), thin, and nothing personal."""
    body: dict[str, Any] = received.verified(secret)
    assert set(body) == {"type", "timestamp", "data"}
    assert set(body["data"]) == DATA_KEYS
    assert body["type"] == f"case.{body['data']['action']}"
    assert body["timestamp"].endswith("Z") and body["data"]["at"].endswith("Z")
    stamp = int(received.headers["webhook-timestamp"])
    assert abs(stamp - datetime.now(UTC).timestamp()) < 60
    assert received.headers["webhook-signature"].startswith("v1,")
    assert received.headers["content-type"] == "application/json"
    for word in PERSONAL:
        assert word not in received.body.decode(), word
    return body


# A subscribed officer hears of its own cases -------------------------------------------------
async def test_a_resettlement_officers_system_receives_signed_thin_messages_for_its_cases(
    drive: Driver, receiver: Receiver, engine: AsyncEngine
) -> None:
    c = drive.cast
    endpoint = await subscribe(drive.client, c.admin, c.usa, f"{receiver.url}/usa")
    assert set(endpoint) == ENDPOINT_KEYS | {"secret"}
    assert endpoint["active"] is True and endpoint["actions"] is None
    assert endpoint["secret"].startswith("whsec_")
    case = await drive.run(await drive.new_case(), [*SUBMIT_USA, ACCEPT])
    assert await deliver(engine) == 2
    received = receiver.delivered("/usa")
    bodies = [check_message(each, endpoint["secret"]) for each in received]
    events = {e["id"]: e for e in await visible_events(drive, c.usa, case["id"])}
    # the case came into the officer's scope with its submission: nothing from before it
    assert [b["data"]["action"] for b in bodies] == ["submit", "decide"]
    for body in bodies:
        event = events[body["data"]["event_id"]]
        assert body["data"] == {
            "event_id": event["id"],
            "case_id": case["id"],
            "reference": case["reference"],
            "action": event["action"],
            "from_status": event["from_status"],
            "to_status": event["to_status"],
            "at": body["data"]["at"],
        }
        assert datetime.fromisoformat(body["data"]["at"]) == datetime.fromisoformat(event["at"])
    listed = await deliveries(drive.client, c.admin, endpoint)
    assert [d["id"] for d in listed] == [r.id for r in reversed(received)], "newest first"
    for item in listed:
        assert (item["status"], item["attempts"], item["last_status_code"]) == ("delivered", 1, 200)
        assert item["next_attempt_at"] is None and item["last_attempt_at"] is not None
    assert [d["type"] for d in listed] == ["case.decide", "case.submit"]
    assert await deliver(engine) == 0, "a delivered message is not sent again"


async def test_an_endpoint_can_ask_for_some_actions_only(
    drive: Driver, receiver: Receiver, engine: AsyncEngine
) -> None:
    c = drive.cast
    endpoint = await subscribe(
        drive.client, c.admin, c.usa, f"{receiver.url}/decisions", actions=["decide"]
    )
    assert endpoint["actions"] == ["decide"]
    await drive.run(await drive.new_case(), [*SUBMIT_USA, HOLD, ACCEPT])
    await deliver(engine)
    assert [r.json()["type"] for r in receiver.delivered()] == ["case.decide", "case.decide"]
    changed = await drive.client.patch(
        f"{WEBHOOKS}/{endpoint['id']}", json={"actions": None}, headers=c.admin.headers
    )
    assert changed.status_code == 200 and changed.json()["actions"] is None
    await drive.run(await drive.new_case(), SUBMIT_USA)
    await deliver(engine)
    assert [r.json()["type"] for r in receiver.delivered()][-1] == "case.submit"


# Scope: every action, and nobody else's cases ------------------------------------------------
PATHS: list[tuple[str, list[ScenarioStep]]] = [
    (
        "transit",
        [
            *START,
            ("worker", "request_review", {}),
            ("boss", "return_to_assessment", {"reason": "Missing documents"}),
            ("worker", "request_review", {}),
            ("boss", "submit", submission("USA")),
            ASK,
            ANSWER,
            REQUEST_CRI,
            AUTHORISE_CRI,
            ENTER_CRI,
            ("cri", "extend_transit", {"authorised_until": days(400)}),
            ACCEPT_SPLIT,
            SPLIT,
            *CLEAR,
            DEPART,
            ("usa", "confirm_arrival", {"arrived_at": "<today>"}),
        ],
    ),
    (
        "in_country",
        [
            *REVIEW,
            ("boss", "submit", submission("CAN")),
            ("can", "decide", {"decision": "denied", "reason": "Not eligible"}),
            ("boss", "resubmit", submission("USA")),
            ("boss", "set_legal_hold", {"hold": True, "reason": "Court order 12/2026"}),
            WITHDRAW,
            CLOSE,
            REOPEN,
        ],
    ),
    (
        "transit",
        [*SUBMIT_USA, REQUEST_CRI, ("cri", "refuse_transit", {"reason": "Quota reached"}), HOLD],
    ),
]


@pytest.mark.slow
async def test_each_user_receives_exactly_the_events_it_may_see_for_every_action(
    drive: Driver, receiver: Receiver, engine: AsyncEngine
) -> None:
    """After each step (PATCH and every action of the actions table): each subscribed user's
    system receives the new events it may see right then (``GET /cases/{id}/events``) and no
    other; officers of another state (AUS) and country (PAN) receive nothing at all."""
    c = drive.cast
    users = {"worker": c.worker, "usa": c.usa, "can": c.can, "cri": c.cri}
    strangers = {"aus": c.aus, "pan": c.pan}
    endpoints = {
        name: await subscribe(drive.client, c.admin, user, f"{receiver.url}/{name}")
        for name, user in {**users, **strangers}.items()
    }
    expected: dict[str, list[int]] = {name: [] for name in endpoints}
    seen: dict[str, int] = {}  # case id → its newest event already judged
    actions: set[str] = set()

    async def judge(case_ids: set[str]) -> None:
        for case_id in sorted(case_ids):
            new = [e for e in await drive.events(case_id) if e["id"] > seen.get(case_id, 0)]
            if not new:
                continue
            seen[case_id] = new[-1]["id"]
            actions.update(e["action"] for e in new)
            for name, user in {**users, **strangers}.items():
                mine = {e["id"] for e in await visible_events(drive, user, case_id)}
                expected[name] += [e["id"] for e in new if e["id"] in mine]
        await deliver(engine)

    for pathway, steps in PATHS:
        case = await drive.new_case(pathway=pathway)
        patched = await drive.patch(
            c.worker, case["id"], case["version"], processing_priority="normal"
        )
        assert patched.status_code == 200, patched.text
        current = patched.json()
        await judge({case["id"]})
        for step in steps:
            current = await drive.run(current, [step])
            await judge({current["id"], *(current.get("split_into") or [])})

    assert actions == set(EVENT_ACTIONS), sorted(set(EVENT_ACTIONS) - actions)
    for name in strangers:
        assert expected[name] == [] and receiver.at(f"/{name}") == []
        assert await deliveries(drive.client, c.admin, endpoints[name]) == []
    for name in users:
        got = [check_message(r, endpoints[name]["secret"]) for r in receiver.at(f"/{name}")]
        assert sorted(b["data"]["event_id"] for b in got) == sorted(expected[name]), name
        assert len(got) == len(expected[name]), f"{name}: a message arrived twice"
    assert {"submit", "decide", "resubmit"} <= {
        e["action"]
        for case_id in seen
        for e in await visible_events(drive, c.usa, case_id)
        if e["id"] in expected["usa"]
    }
    assert expected["cri"] and expected["can"]


# Retries, timeouts, failure, 410 -------------------------------------------------------------
async def test_retries_after_errors_and_timeouts_keep_the_webhook_id(
    drive: Driver, receiver: Receiver, engine: AsyncEngine
) -> None:
    c = drive.cast
    endpoint = await subscribe(drive.client, c.admin, c.worker, f"{receiver.url}/retry")
    receiver.answer(
        Answer(500),
        Answer(200, delay=SLOW),  # later than the timeout: not a delivery
        Answer(302, headers=(("Location", "/elsewhere"),)),  # never followed
    )
    await drive.new_case()
    assert await deliver(engine, replace(IMPATIENT, max_attempts=5)) == 4
    attempts = receiver.at("/retry")
    assert [a.status for a in attempts] == [500, 200, 302, 200]
    assert len({a.id for a in attempts}) == 1, "the same webhook-id on every attempt"
    for each in attempts:
        check_message(each, endpoint["secret"])
    assert receiver.at("/elsewhere") == []
    (item,) = await deliveries(drive.client, c.admin, endpoint)
    assert item["id"] == attempts[0].id
    assert (item["status"], item["attempts"], item["last_status_code"]) == ("delivered", 4, 200)


async def test_a_timeout_leaves_no_status_code_and_the_backoff_follows_the_contract(
    drive: Driver, receiver: Receiver, engine: AsyncEngine
) -> None:
    c = drive.cast
    endpoint = await subscribe(drive.client, c.admin, c.worker, f"{receiver.url}/slow")
    receiver.answer(Answer(200, delay=SLOW))
    await drive.new_case()
    slow = replace(IMPATIENT, backoff_seconds=5)
    assert await deliver(engine, slow) == 1
    (item,) = await deliveries(drive.client, c.admin, endpoint)
    assert (item["status"], item["attempts"], item["last_status_code"]) == ("pending", 1, None)
    wait = datetime.fromisoformat(item["next_attempt_at"]) - datetime.fromisoformat(
        item["last_attempt_at"]
    )
    assert timedelta(seconds=4.5) <= wait <= timedelta(seconds=5.5)
    assert await deliver(engine, slow) == 0, "not due before the backoff has passed"
    # PTA_WEBHOOK_BACKOFF_SECONDS × 4^(attempt−1), at most 6 h apart
    default = delivery.DeliveryConfig(
        backoff_seconds=5, max_attempts=12, allow_private=False, secret_key=SECRET
    )
    delays = [default.retry_delay(n).total_seconds() for n in range(1, 12)]
    assert delays[:5] == [5, 20, 80, 320, 1280]
    assert max(delays) == delays[-1] == 6 * 3600


async def test_a_message_fails_after_its_last_attempt_and_an_admin_retries_it(
    drive: Driver, receiver: Receiver, engine: AsyncEngine
) -> None:
    c = drive.cast
    endpoint = await subscribe(drive.client, c.admin, c.worker, f"{receiver.url}/down")
    receiver.answer(default=Answer(503))
    await drive.new_case()
    assert await deliver(engine) == CONFIG.max_attempts
    (item,) = await deliveries(drive.client, c.admin, endpoint)
    assert (item["status"], item["attempts"], item["last_status_code"]) == ("failed", 3, 503)
    assert item["next_attempt_at"] is None
    assert await deliver(engine) == 0, "given up"

    retry = f"{WEBHOOKS}/{endpoint['id']}/deliveries/{item['id']}/retry"
    receiver.answer(default=Answer(204))
    answer = await drive.client.post(retry, headers=c.admin.headers)
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "pending"
    assert await deliver(engine) == 1
    (item,) = await deliveries(drive.client, c.admin, endpoint)
    assert (item["status"], item["attempts"], item["last_status_code"]) == ("delivered", 4, 204)
    assert {r.id for r in receiver.at("/down")} == {item["id"]}, "sent again with the same id"
    again = await drive.client.post(retry, headers=c.admin.headers)
    assert_problem(again, 409, "conflict")  # only a failed message is retried
    unknown = await drive.client.post(
        f"{WEBHOOKS}/{endpoint['id']}/deliveries/{uuid.uuid4()}/retry", headers=c.admin.headers
    )
    assert_problem(unknown, 404, "not_found")


async def test_a_410_disables_the_endpoint_until_an_admin_enables_it_again(
    drive: Driver, receiver: Receiver, engine: AsyncEngine
) -> None:
    c = drive.cast
    endpoint = await subscribe(drive.client, c.admin, c.worker, f"{receiver.url}/gone")
    receiver.answer(Answer(410))
    case = await drive.new_case()
    assert await deliver(engine) == 1
    assert (await endpoint_now(drive.client, c.admin, endpoint))["active"] is False
    (item,) = await deliveries(drive.client, c.admin, endpoint)
    assert (item["attempts"], item["last_status_code"]) == (1, 410)
    await drive.run(case, START)  # while disabled: no message is written for it
    assert await deliver(engine) == 0
    assert len(await deliveries(drive.client, c.admin, endpoint)) == 1
    enabled = await drive.client.patch(
        f"{WEBHOOKS}/{endpoint['id']}", json={"active": True}, headers=c.admin.headers
    )
    assert enabled.status_code == 200 and enabled.json()["active"] is True
    assert await deliver(engine) == 1
    (item,) = await deliveries(drive.client, c.admin, endpoint)
    assert (item["status"], item["attempts"], item["last_status_code"]) == ("delivered", 2, 200)


async def test_messages_of_one_case_arrive_in_event_order(
    drive: Driver, receiver: Receiver, engine: AsyncEngine
) -> None:
    """An earlier message that is being retried holds back the later ones of its case, not
    those of another case."""
    c = drive.cast
    await subscribe(drive.client, c.admin, c.worker, f"{receiver.url}/order")
    receiver.answer(Answer(500), Answer(500))  # the first two attempts fail
    first = await drive.run(await drive.new_case(), REVIEW)  # three events
    other = await drive.new_case()
    await deliver(engine)
    arrived = receiver.at("/order")
    by_case: dict[str, list[int]] = {}
    for each in arrived:
        data = each.json()["data"]
        if 200 <= each.status < 300:
            by_case.setdefault(data["case_id"], []).append(data["event_id"])
    assert len(by_case[first["id"]]) == 3 and len(by_case[other["id"]]) == 1
    assert by_case[first["id"]] == sorted(by_case[first["id"]])
    # no later event of the first case was attempted before its first event got through
    ids = [(r.json()["data"]["case_id"], r.json()["data"]["event_id"], r.status) for r in arrived]
    first_events = [(event, status) for case_id, event, status in ids if case_id == first["id"]]
    assert first_events[0][1] == 500 and first_events[1][0] == first_events[0][0]
    delivered_first = next(i for i, (_, s) in enumerate(first_events) if s == 200)
    assert all(e == first_events[0][0] for e, _ in first_events[: delivered_first + 1])


async def test_an_endpoints_connection_is_kept_and_never_shared_with_another_endpoint(
    drive: Driver, receiver: Receiver, engine: AsyncEngine
) -> None:
    """Attempts to one endpoint reuse a connection (one TCP handshake, not one per message);
    two endpoints at the very same address never share one (a TLS session is checked for its
    endpoint's host name only)."""
    c = drive.cast
    await subscribe(drive.client, c.admin, c.worker, f"{receiver.url}/one")
    await subscribe(drive.client, c.admin, c.boss, f"{receiver.url}/two")
    await drive.run(await drive.new_case(), REVIEW)  # three events, sent one after the other
    await deliver(engine)
    one, two = receiver.delivered("/one"), receiver.delivered("/two")
    assert len(one) == len(two) == 3
    assert len({r.peer for r in one}) == 1 and len({r.peer for r in two}) == 1
    assert not {r.peer for r in one} & {r.peer for r in two}


# Secrets -------------------------------------------------------------------------------------
async def test_rotation_signs_with_the_new_secret_only_and_no_secret_is_stored_plain(
    drive: Driver, receiver: Receiver, engine: AsyncEngine
) -> None:
    c = drive.cast
    endpoint = await subscribe(drive.client, c.admin, c.worker, f"{receiver.url}/rotate")
    old = endpoint["secret"]
    assert "secret" not in await endpoint_now(drive.client, c.admin, endpoint), "shown once"
    listed = await drive.client.get(WEBHOOKS, headers=c.admin.headers)
    assert old not in listed.text and "secret" not in listed.json()["items"][0]
    rotated = await drive.client.post(
        f"{WEBHOOKS}/{endpoint['id']}/rotate-secret", headers=c.admin.headers
    )
    assert rotated.status_code == 200 and set(rotated.json()) == {"secret"}
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != old
    await drive.new_case()
    await deliver(engine)
    (message,) = receiver.delivered("/rotate")
    check_message(message, new)
    with pytest.raises(WebhookVerificationError):
        message.verified(old)
    async with engine.connect() as conn:
        dump = str((await conn.execute(text("SELECT * FROM webhook_endpoints"))).all())
    for secret in (old, new):
        assert secret not in dump and secret.removeprefix("whsec_") not in dump


# Deactivation and scope at delivery ----------------------------------------------------------
async def test_a_deactivated_user_receives_nothing_more_at_once(
    drive: Driver, receiver: Receiver, engine: AsyncEngine
) -> None:
    c = drive.cast
    endpoint = await subscribe(drive.client, c.admin, c.usa, f"{receiver.url}/leaver")
    case = await drive.run(await drive.new_case(), SUBMIT_USA)  # a message waits for delivery
    off = await drive.client.patch(
        f"/api/v1/users/{c.usa.id}", json={"active": False}, headers=c.admin.headers
    )
    assert off.status_code == 200, off.text
    assert await deliver(engine) == 1
    (item,) = await deliveries(drive.client, c.admin, endpoint)
    assert (item["status"], item["last_status_code"], item["next_attempt_at"]) == (
        "failed",
        None,
        None,
    )
    await drive.run(case, [CLOSE])
    assert len(await deliveries(drive.client, c.admin, endpoint)) == 1, "nothing new written"
    assert receiver.received == []


async def test_scope_is_judged_again_at_delivery_by_the_user_row_then(
    drive: Driver, receiver: Receiver, engine: AsyncEngine
) -> None:
    """A message written for the USA officer is not sent once that user is Canada's."""
    c = drive.cast
    endpoint = await subscribe(drive.client, c.admin, c.usa, f"{receiver.url}/moved")
    await drive.run(await drive.new_case(), SUBMIT_USA)
    moved = await drive.client.patch(
        f"/api/v1/users/{c.usa.id}", json={"country": "CAN"}, headers=c.admin.headers
    )
    assert moved.status_code == 200, moved.text
    await deliver(engine)
    (item,) = await deliveries(drive.client, c.admin, endpoint)
    assert (item["status"], item["last_status_code"]) == ("failed", None)
    assert receiver.received == []


# Addresses -----------------------------------------------------------------------------------
REFUSED_URLS = (
    "https://127.0.0.1/hook",
    "https://127.1.2.3:8443/hook",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://10.1.2.3/hook",
    "https://169.254.169.254/latest/meta-data",
    "https://192.168.1.10/hook",
    "https://100.64.0.1/hook",
    "https://0.0.0.0/hook",
    "https://localhost/hook",  # a host name that resolves to 127.0.0.1
    "http://203.0.113.10/hook",  # http:// only where private addresses are allowed
    "ftp://files.example.org/hook",
    "https://user:password@hooks.example.org/hook",
    "https://hooks.example.org/hook#fragment",
)


async def test_subscription_refuses_addresses_that_are_not_globally_routable(
    client: httpx.AsyncClient, make: Factory
) -> None:
    admin, officer = await make.user("admin"), await make.user("resettlement_officer", "USA")
    for url in REFUSED_URLS:
        answer = await client.post(
            WEBHOOKS, json={"user_id": str(officer.id), "url": url}, headers=admin.headers
        )
        body = assert_problem(answer, 422, "validation_error")
        assert body["errors"][0]["loc"] == ["body", "url"], (url, body)
    assert (await client.get(WEBHOOKS, headers=admin.headers)).json()["items"] == []


async def test_the_address_is_judged_again_at_each_attempt(
    drive: Driver, receiver: Receiver, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: a name that resolved to a public address at subscription and resolves
    to 127.0.0.1 at delivery is refused then (a failed attempt, no status code); the same
    with PTA_WEBHOOK_ALLOW_PRIVATE off at delivery."""
    c = drive.cast
    answers = {"hooks.example.org": "93.184.216.34"}

    async def lookup(host: str, port: int) -> list[webhook_targets.IpAddress]:
        return [ipaddress.ip_address(answers.get(host, host))]

    monkeypatch.setattr(webhook_targets, "lookup", lookup)
    strict = replace(CONFIG, allow_private=False, backoff_seconds=60)
    rebinding = await subscribe(
        drive.client, c.admin, c.worker, f"https://hooks.example.org:{receiver.port}/x"
    )
    answers["hooks.example.org"] = "127.0.0.1"
    local = await subscribe(drive.client, c.admin, c.worker, f"{receiver.url}/local")
    await drive.new_case()
    assert await deliver(engine, strict) == 2
    for endpoint in (rebinding, local):
        (item,) = await deliveries(drive.client, c.admin, endpoint)
        assert (item["status"], item["attempts"], item["last_status_code"]) == ("pending", 1, None)
    assert receiver.received == []


async def test_the_answer_is_read_no_further_than_64_kib(
    drive: Driver, receiver: Receiver, engine: AsyncEngine
) -> None:
    c = drive.cast
    endpoint = await subscribe(drive.client, c.admin, c.worker, f"{receiver.url}/big")
    receiver.answer(Answer(200, body=b"x" * (8 * 1024 * 1024)))
    await drive.new_case()
    started = datetime.now(UTC)
    assert await deliver(engine) == 1
    assert datetime.now(UTC) - started < timedelta(seconds=5)
    (item,) = await deliveries(drive.client, c.admin, endpoint)
    assert item["status"] == "delivered"


# The outbox and the event commit together ----------------------------------------------------
async def test_a_rolled_back_event_leaves_no_message_and_no_subscriber_none_at_all(
    drive: Driver, receiver: Receiver, engine: AsyncEngine
) -> None:
    c = drive.cast
    case = await drive.new_case()
    await drive.run(case, REVIEW)
    assert await message_count(engine) == 0, "nobody subscribed: nothing written"
    await subscribe(drive.client, c.admin, c.worker, f"{receiver.url}/atomic")
    actor = Actor(id=c.worker.id, username=c.worker.username, role=Role.caseworker)
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await history.record_event(
                SqlaDb(conn),
                case_id=uuid.UUID(case["id"]),
                actor=actor,
                action="update",
                from_status="pending_review",
                to_status="pending_review",
                payload={},
                now=datetime.now(UTC),
            )
            assert await message_count_in(conn) == 1
            raise RuntimeError("the write fails after its event")
    assert await message_count(engine) == 0
    assert await deliver(engine) == 0 and receiver.received == []


async def message_count_in(conn: Any) -> int:
    return int((await conn.execute(select(func.count()).select_from(WebhookMessage))).scalar_one())


# The admin API -------------------------------------------------------------------------------
async def test_the_admin_api_lists_reads_changes_and_deletes_endpoints(
    drive: Driver, receiver: Receiver, engine: AsyncEngine
) -> None:
    c = drive.cast
    made = [
        await subscribe(
            drive.client, c.admin, user, f"{receiver.url}/{n}", description=f"system {n}"
        )
        for n, user in enumerate((c.usa, c.cri, c.worker))
    ]
    first = await drive.client.get(WEBHOOKS, params={"limit": 2}, headers=c.admin.headers)
    assert first.status_code == 200
    rest = await drive.client.get(
        WEBHOOKS, params={"cursor": first.json()["next_cursor"]}, headers=c.admin.headers
    )
    listed = first.json()["items"] + rest.json()["items"]
    assert rest.json()["next_cursor"] is None
    assert [e["id"] for e in listed] == [e["id"] for e in made]
    for item, created in zip(listed, made, strict=True):
        assert item == {k: v for k, v in created.items() if k != "secret"}
    url = f"{WEBHOOKS}/{made[0]['id']}"
    changed = await drive.client.patch(
        url,
        json={"url": f"{receiver.url}/new", "active": False, "description": None},
        headers=c.admin.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json() | {} == {
        **{k: v for k, v in made[0].items() if k != "secret"},
        "url": f"{receiver.url}/new",
        "active": False,
        "description": None,
    }
    refused: list[dict[str, Any]] = [
        {},
        {"url": None},
        {"active": None},
        {"url": "ftp://files.example.org/"},
        {"secret": "x"},
    ]
    for bad in refused:
        assert_problem(await drive.client.patch(url, json=bad, headers=c.admin.headers), 422, None)
    await drive.run(await drive.new_case(), SUBMIT_USA)
    await deliver(engine)
    assert len(await deliveries(drive.client, c.admin, made[2])) == 4
    gone = await drive.client.delete(f"{WEBHOOKS}/{made[2]['id']}", headers=c.admin.headers)
    assert gone.status_code == 204 and not gone.content
    for path in ("", "/deliveries"):
        answer = await drive.client.get(
            f"{WEBHOOKS}/{made[2]['id']}{path}", headers=c.admin.headers
        )
        assert_problem(answer, 404, "not_found")
    assert_problem(
        await drive.client.delete(f"{WEBHOOKS}/{made[2]['id']}", headers=c.admin.headers),
        404,
        "not_found",
    )


async def test_only_admins_manage_endpoints_for_users_who_read_cases(
    drive: Driver, receiver: Receiver
) -> None:
    c = drive.cast
    url = f"{receiver.url}/x"
    for user in (c.worker, c.boss, c.usa, c.cri, c.manager):
        for method, path in (("POST", WEBHOOKS), ("GET", WEBHOOKS)):
            body = {"user_id": str(user.id), "url": url} if method == "POST" else None
            answer = await drive.client.request(method, path, json=body, headers=user.headers)
            assert_problem(answer, 403, "forbidden")
    for user in (c.manager, c.admin):
        answer = await drive.client.post(
            WEBHOOKS, json={"user_id": str(user.id), "url": url}, headers=c.admin.headers
        )
        assert_problem(answer, 422, "validation_error")
    missing = {"user_id": str(uuid.uuid4()), "url": url}
    assert_problem(await drive.client.post(WEBHOOKS, json=missing, headers=c.admin.headers), 422)
    off = await drive.client.patch(
        f"/api/v1/users/{c.can.id}", json={"active": False}, headers=c.admin.headers
    )
    assert off.status_code == 200
    inactive = {"user_id": str(c.can.id), "url": url}
    assert_problem(await drive.client.post(WEBHOOKS, json=inactive, headers=c.admin.headers), 422)
    wrong: list[dict[str, Any]] = [
        {"actions": []},
        {"actions": ["decide", "decide"]},
        {"actions": ["fly"]},
    ]
    for bad in wrong:
        body = {"user_id": str(c.usa.id), "url": url, **bad}
        assert_problem(await drive.client.post(WEBHOOKS, json=body, headers=c.admin.headers), 422)
    assert (await drive.client.get(WEBHOOKS, headers=c.admin.headers)).json()["items"] == []
    no_token = await drive.client.get(WEBHOOKS)
    assert_problem(no_token, 401, "unauthorized")


# Operations ----------------------------------------------------------------------------------
async def test_each_attempt_is_counted_timed_and_logged_without_a_body(
    drive: Driver,
    receiver: Receiver,
    engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app import metrics
    from tests.test_metrics import scrape, value

    monkeypatch.setattr(metrics, "DOMAIN_CACHE_SECONDS", 0.0)
    c = drive.cast
    before = await scrape(drive.client)
    endpoint = await subscribe(drive.client, c.admin, c.worker, f"{receiver.url}/ops")
    receiver.answer(Answer(500))
    await drive.new_case()
    with caplog.at_level(logging.INFO, logger="pta.webhooks"):
        await deliver(engine)
    lines = [vars(r) for r in caplog.records if r.name == "pta.webhooks"]
    outcomes = [(line["outcome"], line["status_code"]) for line in lines]
    assert outcomes == [("http_error", 500), ("delivered", 200)]
    (item,) = await deliveries(drive.client, c.admin, endpoint)
    for line in lines:
        assert line["endpoint_id"] == endpoint["id"] and line["message_id"] == item["id"]
        assert line["duration_ms"] >= 0
        text_line = str(line)
        assert item["id"] in text_line and "reference" not in text_line
        for word in PERSONAL:
            assert word not in text_line
    after = await scrape(drive.client)
    for outcome in ("delivered", "http_error"):
        moved = value(after, "pta_webhook_deliveries_total", outcome=outcome) - value(
            before, "pta_webhook_deliveries_total", outcome=outcome
        )
        assert moved == 1, outcome
    timed = value(after, "pta_webhook_delivery_duration_seconds_count") - value(
        before, "pta_webhook_delivery_duration_seconds_count"
    )
    assert timed == 2
    assert value(after, "pta_webhook_messages_pending") == 0
    assert value(after, "pta_webhook_messages_failed") == 0
    receiver.answer(default=Answer(500))
    await drive.new_case()
    await drive.new_case()
    waiting = await scrape(drive.client)
    assert value(waiting, "pta_webhook_messages_pending") == 2
    await deliver(engine)
    assert value(await scrape(drive.client), "pta_webhook_messages_failed") == 2


async def test_pta_webhooks_deliver_once_sends_what_is_due(
    drive: Driver, receiver: Receiver, migrated: Settings
) -> None:
    """The command line delivers beside the service (here: while no server runs)."""
    import asyncio

    c = drive.cast
    endpoint = await subscribe(drive.client, c.admin, c.worker, f"{receiver.url}/cli")
    await drive.new_case()
    env = {
        "PATH": "/usr/bin:/bin",
        "PTA_DATABASE_URL": migrated.database_url,
        "PTA_SECRET_KEY": SECRET,
        "PTA_WEBHOOK_ALLOW_PRIVATE": "true",
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [*pta_command(), "webhooks", "deliver", "--once"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "1"
    (message,) = receiver.delivered("/cli")
    check_message(message, endpoint["secret"])
    (item,) = await deliveries(drive.client, c.admin, endpoint)
    assert item["status"] == "delivered"
