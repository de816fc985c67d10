"""Webhook secrets and signatures (Standard Webhooks): a secret is ``whsec_`` + base64 of 32
random bytes, stored encrypted with a key derived from PTA_SECRET_KEY (a dump of the database
alone does not reveal it), and signs ``{id}.{timestamp}.{body}`` with HMAC-SHA256."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "whsec_"
SECRET_BYTES = 32
_INFO = b"pta webhook endpoint secrets v1"


class UnreadableSecret(Exception):
    """The stored secret was encrypted under another PTA_SECRET_KEY (rotate it)."""


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


@functools.lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(secret: str, secret_key: str) -> str:
    return _fernet(secret_key).encrypt(secret.encode()).decode()


@functools.lru_cache(maxsize=1024)
def unseal(stored: str, secret_key: str) -> str:
    """The secret as given to its endpoint (kept for the endpoints in use: delivery reads it
    for every attempt)."""
    try:
        return _fernet(secret_key).decrypt(stored.encode()).decode()
    except InvalidToken:
        raise UnreadableSecret("the endpoint's secret cannot be read with this key") from None


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header's value."""
    key = base64.b64decode(secret.removeprefix(PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()
