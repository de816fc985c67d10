"""Sending the outbox: claim due messages in one short transaction (PostgreSQL: ``FOR UPDATE
SKIP LOCKED``, so workers and replicas never take the same one), send each over HTTP with
Standard Webhooks headers, and record the answers of the attempts that ended in the next such
transaction. No transaction is ever open across an HTTP call.

A claim takes the next attempt number and leases the message (``next_attempt_at`` moves past
the longest an attempt can take): a worker that dies mid-attempt leaves it to be claimed again
when the lease ends, and a result is recorded only by the attempt that holds that number. A
message waits while an earlier message of the same case for the same endpoint is pending
(order per case), and is not taken while its endpoint is disabled. Scope is judged again at
each claim, by the user row as it is then: a message its user may no longer see ends
``failed``, unsent."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import httpx
import orjson
from sqlalchemy import Update, bindparam, case, exists, literal, select, update
from sqlalchemy.orm import aliased
from sqlalchemy.sql.base import Executable

from app import metrics
from app.config import Settings
from app.db import Db, SqlDialect, Transactions
from app.models import Case, CaseEvent, User, WebhookEndpoint, WebhookMessage
from app.services import policy, webhook_signing, webhook_targets
from app.vocabulary import WebhookStatus

log = logging.getLogger("pta.webhooks")

MAX_DELAY = timedelta(hours=6)
MAX_RESPONSE_BYTES = 64 * 1024
#: the most attempts one process has in flight at once
BATCH = 32
USER_AGENT = "pta-case-service-webhooks/1"


@dataclass(frozen=True)
class DeliveryConfig:
    backoff_seconds: float
    max_attempts: int
    allow_private: bool
    secret_key: str
    timeout_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryConfig:
        return cls(
            backoff_seconds=settings.webhook_backoff_seconds,
            max_attempts=settings.webhook_max_attempts,
            allow_private=settings.webhook_allow_private,
            secret_key=settings.signing_key(),
            timeout_seconds=settings.webhook_timeout_seconds,
        )

    def retry_delay(self, attempt: int) -> timedelta:
        """The contract's backoff after attempt number ``attempt`` failed."""
        seconds = min(self.backoff_seconds * 4 ** (attempt - 1), MAX_DELAY.total_seconds())
        return timedelta(seconds=seconds)

    @property
    def lease(self) -> timedelta:
        """How long a claimed message is left to its attempt: the attempt's timeout twice
        over (it ends by then, recorded or not), and a few seconds for the database."""
        return timedelta(seconds=2 * self.timeout_seconds + 5)


_EARLIER = aliased(WebhookMessage)
#: Whether anything is due (a cheap read, so that an idle worker writes nothing).
ANYTHING_DUE: Executable = (
    select(WebhookMessage.id)
    .where(
        WebhookMessage.status == WebhookStatus.pending,
        WebhookMessage.next_attempt_at <= bindparam("now"),
    )
    .limit(1)
)


@cache
def _claim(dialect: SqlDialect) -> Executable:
    due = (
        select(WebhookMessage.id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookMessage.endpoint_id)
        .where(
            WebhookMessage.status == WebhookStatus.pending,
            WebhookMessage.next_attempt_at <= bindparam("now"),
            WebhookEndpoint.active.is_(True),
            ~exists(
                select(_EARLIER.id).where(
                    _EARLIER.endpoint_id == WebhookMessage.endpoint_id,
                    _EARLIER.case_id == WebhookMessage.case_id,
                    _EARLIER.event_id < WebhookMessage.event_id,
                    _EARLIER.status == WebhookStatus.pending,
                )
            ),
        )
        .order_by(WebhookMessage.next_attempt_at)
        .limit(bindparam("batch"))
    )
    if dialect.is_postgresql:  # SQLite runs one writer at a time anyway
        due = due.with_for_update(skip_locked=True, of=WebhookMessage)
    return (
        update(WebhookMessage)
        .where(WebhookMessage.id.in_(due.scalar_subquery()))
        .values(
            attempts=WebhookMessage.attempts + 1,
            last_attempt_at=bindparam("now"),
            next_attempt_at=bindparam("lease_until"),
        )
        .returning(WebhookMessage.id)
    )


@cache
def _claimed(dialect: SqlDialect) -> Executable:
    """What each claimed attempt needs, and whether its user may still see the event."""
    visible = case((policy.event_visible_to_user(), literal(True)), else_=literal(False))
    return (
        select(
            WebhookMessage.id,
            WebhookMessage.attempts,
            WebhookMessage.endpoint_id,
            WebhookEndpoint.url,
            WebhookEndpoint.secret,
            CaseEvent.id.label("event_id"),
            CaseEvent.case_id,
            CaseEvent.action,
            CaseEvent.from_status,
            CaseEvent.to_status,
            CaseEvent.at,
            Case.reference,
            visible.label("visible"),
        )
        .select_from(WebhookMessage)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookMessage.endpoint_id)
        .join(User, User.id == WebhookEndpoint.user_id)
        .join(CaseEvent, CaseEvent.id == WebhookMessage.event_id)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(dialect.in_list(WebhookMessage.id, "claimed_ids"))
    )


RECORD: Update = (
    update(WebhookMessage)
    .where(
        WebhookMessage.id == bindparam("message_key"),
        WebhookMessage.attempts == bindparam("attempt_no"),
        WebhookMessage.status == WebhookStatus.pending,
    )
    .values(
        status=bindparam("new_status"),
        last_status_code=bindparam("code"),
        last_attempt_at=bindparam("attempted_at"),
        next_attempt_at=bindparam("next_at"),
    )
)
DISABLE: Update = (
    update(WebhookEndpoint)
    .where(WebhookEndpoint.id == bindparam("endpoint_key"))
    .values(active=False, updated_at=bindparam("changed_at"))
)


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def message_body(row: Mapping[str, Any], now: datetime) -> bytes:
    """The contract's thin message: ids, statuses and times, never personal data."""
    return orjson.dumps(
        {
            "type": f"case.{row['action']}",
            "timestamp": _timestamp(now),
            "data": {
                "event_id": row["event_id"],
                "case_id": str(row["case_id"]),
                "reference": row["reference"],
                "action": row["action"],
                "from_status": row["from_status"],
                "to_status": row["to_status"],
                "at": _timestamp(row["at"]),
            },
        }
    )


@dataclass(frozen=True)
class Outcome:
    #: delivered, http_error, gone, timeout, connection_error, address_refused,
    #: out_of_scope, secret_unreadable (the ``outcome`` label of the metric)
    name: str
    status_code: int | None = None


async def _post(
    client: httpx.AsyncClient, target: webhook_targets.Target, headers: dict[str, str], body: bytes
) -> int:
    """POST to the address judged safe (Host and TLS name from the URL); read at most
    64 KiB of the answer, follow no redirect."""
    async with client.stream(
        "POST",
        target.url,
        content=body,
        headers={**headers, "Host": target.host_header},
        extensions={"sni_hostname": target.host},
    ) as response:
        read = 0
        async for chunk in response.aiter_raw():
            read += len(chunk)
            if read >= MAX_RESPONSE_BYTES:
                break
        return response.status_code


def signed_headers(secret: str, message_id: str, now: datetime, body: bytes) -> dict[str, str]:
    stamp = int(now.timestamp())
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": webhook_signing.signature(secret, message_id, stamp, body),
    }


async def send(
    client: httpx.AsyncClient, row: Mapping[str, Any], config: DeliveryConfig
) -> Outcome:
    """One attempt of one message: judge the address, sign, POST — within the timeout."""
    try:
        async with asyncio.timeout(config.timeout_seconds):
            try:
                target = await webhook_targets.resolve(
                    row["url"], allow_private=config.allow_private
                )
            except webhook_targets.RefusedTarget:
                return Outcome("address_refused")
            try:
                secret = webhook_signing.unseal(row["secret"], config.secret_key)
            except webhook_signing.UnreadableSecret:
                return Outcome("secret_unreadable")
            now = datetime.now(UTC)
            body = message_body(row, now)
            status = await _post(
                client, target, signed_headers(secret, str(row["id"]), now, body), body
            )
    except (TimeoutError, httpx.TimeoutException):
        return Outcome("timeout")
    except (httpx.HTTPError, OSError):
        return Outcome("connection_error")
    if 200 <= status < 300:
        return Outcome("delivered", status)
    return Outcome("gone" if status == 410 else "http_error", status)


def next_state(
    outcome: Outcome, attempt: int, config: DeliveryConfig, now: datetime
) -> tuple[WebhookStatus, datetime | None]:
    """Delivered; failed (out of scope, or the last attempt); else due again after the
    backoff. A 410 also disables the endpoint: the message waits, in its case's order, for
    an admin to enable it again."""
    if outcome.name == "delivered":
        return WebhookStatus.delivered, None
    if outcome.name == "out_of_scope" or attempt >= config.max_attempts:
        return WebhookStatus.failed, None
    return WebhookStatus.pending, now + config.retry_delay(attempt)


@dataclass(frozen=True)
class Finished:
    """An attempt that ended: the claimed row, how it went, and when it started."""

    row: Mapping[str, Any]
    outcome: Outcome
    started: float


async def _record(db: Db, finished: Sequence[Finished], config: DeliveryConfig) -> None:
    """The answers of ended attempts, in the caller's transaction (one statement for all of
    them), each attempt counted, timed and logged."""
    if not finished:
        return
    now = datetime.now(UTC)
    answers, gone = [], set()
    for ended in finished:
        row, outcome = ended.row, ended.outcome
        attempt_no = int(row["attempts"])
        status, next_at = next_state(outcome, attempt_no, config, now)
        answers.append(
            {
                "message_key": row["id"],
                "attempt_no": attempt_no,
                "new_status": status,
                "code": outcome.status_code,
                "attempted_at": now,
                "next_at": next_at,
            }
        )
        if outcome.name == "gone":
            gone.add(row["endpoint_id"])
        seconds = time.monotonic() - ended.started
        metrics.observe_webhook(outcome.name, seconds)
        log.info(
            "webhook attempt",
            extra={
                "endpoint_id": str(row["endpoint_id"]),
                "message_id": str(row["id"]),
                "attempt": attempt_no,
                "outcome": outcome.name,
                "status_code": outcome.status_code,
                "duration_ms": round(seconds * 1000, 1),
                "message_status": str(status),
            },
        )
    await db.run_many(RECORD, answers)
    for endpoint in gone:
        await db.run(DISABLE, {"endpoint_key": endpoint, "changed_at": now})


@dataclass(frozen=True)
class Claimed:
    count: int  # messages claimed
    sendable: Sequence[Mapping[str, Any]]  # those whose user may still see the event


async def settle(
    transaction: Transactions,
    config: DeliveryConfig,
    finished: Sequence[Finished],
    room: int,
) -> Claimed:
    """Record the attempts that ended and claim up to ``room`` due messages for one attempt
    each, in one short transaction (a recorded message's successor in its case can be claimed
    at once); those whose user may no longer see the event end failed here, unsent. With
    nothing to record, a cheap read first, so that an idle worker writes nothing."""
    now = datetime.now(UTC)
    if not finished:
        if room <= 0:
            return Claimed(0, [])
        async with transaction(read_only=True) as db:
            if await db.first(ANYTHING_DUE, {"now": now}) is None:
                return Claimed(0, [])
    started = time.monotonic()
    async with transaction() as db:
        await _record(db, finished, config)
        if room <= 0:
            return Claimed(0, [])
        now = datetime.now(UTC)  # after the record: an attempt due again at once is taken
        claimed = await db.all(
            _claim(db.dialect), {"now": now, "lease_until": now + config.lease, "batch": room}
        )
        if not claimed:
            return Claimed(0, [])
        rows = await db.all(_claimed(db.dialect), {"claimed_ids": [row["id"] for row in claimed]})
        sendable = [row for row in rows if row["visible"]]
        unseen = [
            Finished(row, Outcome("out_of_scope"), started) for row in rows if not row["visible"]
        ]
        await _record(db, unseen, config)
    return Claimed(len(claimed), sendable)


async def record(
    transaction: Transactions, finished: Sequence[Finished], config: DeliveryConfig
) -> None:
    """Record ended attempts in one short transaction (if the database is away then, their
    leases run out and the messages are sent again)."""
    if not finished:
        return
    try:
        async with transaction() as db:
            await _record(db, finished, config)
    except Exception as error:
        _not_recorded(finished, error)


def _not_recorded(finished: Sequence[Finished], error: Exception) -> None:
    log.warning(
        "webhook attempts not recorded",
        extra={"messages": len(finished), "error_type": type(error).__name__},
    )


class Senders:
    """The HTTP clients attempts are sent with: one per endpoint and URL, keeping its
    connections alive between attempts. A kept connection is to an address judged at an
    attempt of that endpoint (the URL sent to carries the address, so an address judged
    anew is a new connection) and its TLS session was checked for that endpoint's host name,
    never another's. No redirects, no proxy from the environment."""

    def __init__(self, config: DeliveryConfig) -> None:
        self.config = config
        self._clients: dict[tuple[Any, str], httpx.AsyncClient] = {}

    def client(self, row: Mapping[str, Any]) -> httpx.AsyncClient:
        key = (row["endpoint_id"], row["url"])
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = httpx.AsyncClient(
                follow_redirects=False,
                timeout=httpx.Timeout(self.config.timeout_seconds),
                limits=httpx.Limits(max_connections=BATCH, max_keepalive_connections=4),
                trust_env=False,
            )
        return client

    async def attempt(self, row: Mapping[str, Any]) -> Finished:
        """Send one claimed message (not recorded yet)."""
        started = time.monotonic()
        return Finished(row, await send(self.client(row), row, self.config), started)

    async def __aenter__(self) -> Senders:
        return self

    async def __aexit__(self, *exc: object) -> None:
        clients, self._clients = list(self._clients.values()), {}
        await asyncio.gather(*(client.aclose() for client in clients))


async def deliver_until_idle(transaction: Transactions, config: DeliveryConfig) -> int:
    """Every message due now, and those due again straight away (``pta webhooks deliver
    --once``, tests); the number of attempts."""
    total = 0
    finished: Sequence[Finished] = []
    async with Senders(config) as senders:
        while (claimed := await settle(transaction, config, finished, BATCH)).count:
            total += claimed.count
            finished = await asyncio.gather(*(senders.attempt(row) for row in claimed.sendable))
    return total


async def deliver_forever(transaction: Transactions, config: DeliveryConfig, every: float) -> None:
    """The background delivery each worker runs (and ``pta webhooks deliver``): as soon as
    attempts end (the next message of a case may be waiting), record every attempt that has
    ended and claim what is due while there is room, in one transaction; else look again
    every ``every`` seconds. A slow receiver holds only its own attempts."""
    running: set[asyncio.Task[Finished]] = set()
    ended: list[Finished] = []
    woken = asyncio.Event()

    def done(task: asyncio.Task[Finished]) -> None:
        running.discard(task)
        if task.cancelled():
            return
        if (error := task.exception()) is not None:  # its lease runs out: sent again then
            log.warning("webhook attempt broke", extra={"error_type": type(error).__name__})
        else:
            ended.append(task.result())
        woken.set()

    async with Senders(config) as senders:
        try:
            while True:
                woken.clear()
                finished, ended[:] = list(ended), []
                try:
                    claimed = await settle(transaction, config, finished, BATCH - len(running))
                except Exception as error:  # the database may be away: try again later
                    if finished:  # their leases run out: sent again then
                        _not_recorded(finished, error)
                    log.warning(
                        "webhook delivery paused", extra={"error_type": type(error).__name__}
                    )
                    claimed = Claimed(0, [])
                for row in claimed.sendable:
                    task = asyncio.create_task(senders.attempt(row))
                    running.add(task)
                    task.add_done_callback(done)
                if claimed.count and not claimed.sendable:
                    continue  # all out of scope: more may be due now
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), every)
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            # attempts that ended but were not recorded yet: recorded now if the stop allows
            # (else their leases run out and they are sent again, with the same webhook-id)
            await record(transaction, ended, config)
