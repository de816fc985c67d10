"""Password hashing and bearer tokens. The only module that imports passlib and jose."""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from jose import JWTError, jwt
from passlib.context import CryptContext

ALGORITHM = "HS256"
ISSUER = "pta-case-service"
AUDIENCE = "pta-api"
REQUIRED_CLAIMS = ("exp", "iat", "sub", "aud", "iss", "jti")

_context = CryptContext(schemes=["argon2"], deprecated="auto")


def use_fast_hashing_for_tests() -> None:
    """Cheap argon2 parameters, for test suites that create hundreds of users."""
    global _context
    _context = CryptContext(
        schemes=["argon2"], argon2__memory_cost=1024, argon2__rounds=1, argon2__parallelism=1
    )
    _dummy_hash.cache_clear()


def hash_password(password: str) -> str:
    return str(_context.hash(password))


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(24))


def verify_password(password: str, password_hash: str | None) -> bool:
    """Check a password; with no hash (unknown user) spend the same time on a dummy one, so
    the answer's timing does not tell whether the user exists."""
    if password_hash is None:
        _context.verify(password, _dummy_hash())
        return False
    try:
        return bool(_context.verify(password, password_hash))
    except (ValueError, TypeError):
        return False


class InvalidToken(Exception):
    """The token is forged, tampered with, expired, or lacks a required claim."""


@dataclass(frozen=True)
class TokenClaims:
    user_id: uuid.UUID
    role: str
    generation: int


def create_token(
    *, user_id: uuid.UUID, role: str, generation: int, key: str, now: datetime, minutes: int
) -> str:
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "role": role,
        "gen": generation,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=minutes)).timestamp()),
        "iss": ISSUER,
        "aud": AUDIENCE,
        "jti": uuid.uuid4().hex,
    }
    return str(jwt.encode(claims, key, algorithm=ALGORITHM))


#: Clocks differ: an ``iat`` up to this many seconds ahead of ours is not "in the future".
LEEWAY_SECONDS = 60


def decode_token(token: str, key: str, max_minutes: int) -> TokenClaims:
    """The claims of a valid token. Verifying a signature costs more than the rest of a read
    request's Python work: a token already verified with this key is remembered (by its exact
    text) until it expires; the expiry is checked on every use. ``exp`` and ``iat`` must be
    integers, ``iat`` not in the future, and the lifetime at most ``max_minutes``."""
    claims, issued, expires = _verified(token, key)
    now = time.time()
    if expires <= now:
        raise InvalidToken("expired")
    if issued > now + LEEWAY_SECONDS or expires - issued > max_minutes * 60:
        raise InvalidToken("issued in the future or living too long")
    return claims


@lru_cache(maxsize=4096)
def _verified(token: str, key: str) -> tuple[TokenClaims, int, int]:
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={f"require_{claim}": True for claim in REQUIRED_CLAIMS},
        )
        issued, expires = claims["iat"], claims["exp"]
        if not all(type(value) is int for value in (issued, expires)):  # not "1e10", not true
            raise InvalidToken("iat and exp must be integers")
        verified = TokenClaims(
            user_id=uuid.UUID(str(claims["sub"])),
            role=str(claims["role"]),
            generation=int(claims["gen"]),
        )
        return verified, issued, expires
    except (JWTError, KeyError, ValueError, TypeError, AttributeError) as error:
        raise InvalidToken(str(error)) from None
