"""The clients of the proof: they talk to HAProxy like a careful API client would, retrying on
a broken connection and on 502/503/504 with the very same request (same Idempotency-Key, same
If-Match, same body), and every attempt's outcome is written down."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

RETRY_STATUSES = frozenset({502, 503, 504})
MAX_ATTEMPTS = 40
RETRY_FOR_SECONDS = 60.0
PASSWORD = "deploy-test-password-0123"  # noqa: S105 (synthetic users of a throwaway database)


@dataclass(frozen=True)
class Attempt:
    """One request as a client saw it: its answer's status, or the transport error."""

    at: float  # seconds since the ledger started
    label: str
    status: int | None
    error: str | None
    served_by: str | None


@dataclass
class Ledger:
    """What the clients saw: every attempt, and the writes acknowledged to them."""

    started: float = field(default_factory=time.monotonic)
    attempts: list[Attempt] = field(default_factory=list)
    #: case id → the actions acknowledged on it, in order ("create" first)
    acknowledged: dict[str, list[str]] = field(default_factory=dict)
    #: case id → the version its last acknowledged answer carried
    versions: dict[str, int] = field(default_factory=dict)
    #: creation key → the case id it was acknowledged with
    created: dict[str, str] = field(default_factory=dict)
    replayed: int = 0
    gave_up: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    def now(self) -> float:
        return time.monotonic() - self.started

    def statuses(self) -> Counter[str]:
        return Counter(str(a.status) if a.status else a.error or "?" for a in self.attempts)

    def failures(self) -> list[Attempt]:
        """Attempts a client saw fail on the server side: 5xx answers and broken connections."""
        return [a for a in self.attempts if a.status is None or a.status >= 500]

    def acknowledge(self, case_id: str, action: str, answer: httpx.Response) -> None:
        self.acknowledged.setdefault(case_id, []).append(action)
        self.versions[case_id] = int(answer.headers["etag"].strip('"'))
        if answer.headers.get("idempotent-replayed") == "true":
            self.replayed += 1


class Client:
    """One HTTP client to one base URL, writing each attempt into the ledger."""

    def __init__(self, base: str, ledger: Ledger) -> None:
        self.http = httpx.AsyncClient(base_url=base, timeout=30)
        self.ledger = ledger

    async def close(self) -> None:
        await self.http.aclose()

    async def send(
        self, label: str, method: str, path: str, *, retry: bool = True, **kwargs: Any
    ) -> httpx.Response | None:
        """The answer, retried while the failure is one a retry may cure; None if it never
        came within the bounds (MAX_ATTEMPTS, RETRY_FOR_SECONDS)."""
        deadline = time.monotonic() + RETRY_FOR_SECONDS
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                answer = await self.http.request(method, path, **kwargs)
            except httpx.TransportError as error:
                self._note(label, None, type(error).__name__, None)
            else:
                self._note(label, answer.status_code, None, answer.headers.get("x-served-by"))
                if not retry or answer.status_code not in RETRY_STATUSES:
                    return answer
            if not retry or time.monotonic() > deadline:
                break
            await asyncio.sleep(min(0.1 * attempt, 1.0))
        self.ledger.gave_up.append(f"{method} {label}")
        return None

    def _note(self, label: str, status: int | None, error: str | None, server: str | None) -> None:
        self.ledger.attempts.append(Attempt(self.ledger.now(), label, status, error, server))

    async def sign_in(self, username: str, password: str = PASSWORD) -> httpx.Response | None:
        return await self.send(
            "sign_in",
            "POST",
            "/api/v1/auth/token",
            data={"username": username, "password": password},
            retry=False,
        )

    async def token(self, username: str, password: str = PASSWORD) -> str:
        answer = await self.send(
            "sign_in",
            "POST",
            "/api/v1/auth/token",
            data={"username": username, "password": password},
        )
        if answer is None or answer.status_code != 200:
            raise RuntimeError(f"sign-in of {username} failed: {answer and answer.text}")
        token: str = answer.json()["access_token"]
        return token


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def new_case(marker: str) -> dict[str, Any]:
    """A synthetic household; ``marker`` (its creation key) in referral_source finds it again."""
    return {
        "origin_country": "HND",
        "pathway": "transit",
        "processing_priority": "normal",
        "referral_source": marker,
        "members": [
            {
                "is_principal": True,
                "given_name": "Prueba",
                "family_name": "Carga",
                "sex": "female",
                "date_of_birth": "1991-04-05",
                "nationality": "HND",
                "relationship": "principal",
            },
            {
                "is_principal": False,
                "given_name": "Ensayo",
                "family_name": "Carga",
                "sex": "male",
                "date_of_birth": "2014-09-10",
                "nationality": "HND",
                "relationship": "child",
            },
        ],
    }
