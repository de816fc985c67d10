"""Every setting of the service, read from the environment (prefix ``PTA_``)."""

from __future__ import annotations

import difflib
import ipaddress
import os
import secrets
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.vocabulary import RequirementItem

MIN_SECRET_KEY_BYTES = 32
ENV_PREFIX = "PTA_"
#: read from the working directory when present; the environment wins over it
ENV_FILE = ".env"
DATABASE_SCHEMES = ("postgresql", "postgres", "sqlite")
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigurationError(RuntimeError):
    """The service refuses to start with this configuration."""


def _split(value: object) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple):
        return [str(part).strip() for part in value]
    raise ValueError("expected a comma-separated list")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    database_url: str = "sqlite:///./pta.db"
    #: where `pta serve` listens unless --host/--port say otherwise (and the URLs it prints)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    reports_database_url: str | None = None
    secret_key: SecretStr | None = None
    token_minutes: int = Field(default=30, ge=1, le=24 * 60)
    cors_origins: Annotated[list[str], NoDecode] = []
    log_level: str = "INFO"
    transit_capacity: Annotated[dict[str, int], NoDecode] = {}
    trusted_proxies: Annotated[list[IpNetwork], NoDecode] = []
    docs: bool = True
    statement_timeout_ms: int = Field(default=5000, ge=100)
    pool_size: int = Field(default=20, ge=1)
    #: behind PgBouncer in transaction mode: no server-side prepared statement caches, and
    #: session settings (statement timeout) left to ALTER ROLE
    pgbouncer: bool = False
    #: where the Alembic migrations are, when not beside the package or in the working dir
    migrations_dir: Path | None = None
    #: how often each worker folds funnel deltas into the rollup (0: never, e.g. in tests)
    funnel_fold_seconds: float = Field(default=15, ge=0)
    #: API requests one worker serves at once; beyond, 503 with Retry-After (a flood waits
    #: in the client's retry, not in this worker's memory and database pool)
    max_concurrent_requests: int = Field(default=100, ge=1)
    #: how often the service seals the access log and the case chains (0: never, e.g. tests)
    seal_seconds: float = Field(default=300, ge=0)
    #: a case resettled or closed more than this many days ago is erased (domain.md)
    retention_days: int = Field(default=3650, ge=0)
    #: how often the service applies the retention rule (0: never; ``pta retention apply``)
    retention_interval_seconds: float = Field(default=86400, ge=0)
    #: the pre-departure checklist each accepted submission starts (empty: no checklist)
    departure_requirements: Annotated[tuple[RequirementItem, ...], NoDecode] = tuple(
        RequirementItem
    )
    #: webhooks: the first retry's delay (each next one 4 times longer, at most 6 h)
    webhook_backoff_seconds: float = Field(default=5, ge=0)
    webhook_max_attempts: int = Field(default=12, ge=1, le=100)
    #: true for tests and closed networks: private/loopback targets and http:// allowed
    webhook_allow_private: bool = False
    #: how often each worker looks for due webhook messages (0: never, e.g. in tests)
    webhook_poll_seconds: float = Field(default=1, ge=0)
    #: how long one attempt may take, the address lookup included (the contract's 10 s;
    #: shorter only in tests)
    webhook_timeout_seconds: float = Field(default=10, gt=0, le=60)

    @field_validator("secret_key", "reports_database_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("database_url", "reports_database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            urlsplit(value)  # unbalanced brackets in the host, …
            scheme = make_url(value).get_backend_name()
        except (ArgumentError, ValueError):
            raise ValueError(
                "not a database URL: write postgresql://user:password@host:5432/name "
                "or sqlite:///path/to/file.db"
            ) from None
        if scheme not in DATABASE_SCHEMES:
            raise ValueError(
                f"{scheme}:// databases are not supported: use postgresql://… or sqlite:///…"
            )
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _parse_origins(cls, value: object) -> list[str]:
        return _split(value)

    @field_validator("departure_requirements", mode="before")
    @classmethod
    def _parse_requirements(cls, value: object) -> tuple[RequirementItem, ...]:
        names = _split(value)
        unknown = [name for name in names if name not in RequirementItem.__members__]
        if unknown:
            raise ValueError(
                f"unknown item(s) {', '.join(unknown)}; known: {', '.join(RequirementItem)}"
            )
        if len(set(names)) != len(names):
            raise ValueError("an item is named twice")
        return tuple(item for item in RequirementItem if item in names)  # the checklist's order

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_proxies(cls, value: object) -> list[IpNetwork]:
        return [ipaddress.ip_network(part, strict=False) for part in _split(value)]

    @field_validator("transit_capacity", mode="before")
    @classmethod
    def _parse_capacity(cls, value: object) -> dict[str, int]:
        if isinstance(value, dict):
            return {str(k).upper(): int(v) for k, v in value.items()}
        capacity: dict[str, int] = {}
        for part in _split(value):
            country, sep, number = part.partition("=")
            if not sep or not number.strip().isdigit():
                raise ValueError(f"expected COUNTRY=NUMBER, got {part!r}")
            capacity[country.strip().upper()] = int(number)
        return capacity

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        """The SQLite file, or None for PostgreSQL and in-memory databases."""
        if not self.is_sqlite:
            return None
        path = self.database_url.split("///", 1)[1] if "///" in self.database_url else ""
        path = path.split("?", 1)[0]
        if path in ("", ":memory:"):
            return None
        return Path(path)

    def signing_key(self) -> str:
        """The JWT key: configured, or (embedded mode only) generated once beside the database."""
        if self.secret_key is not None:
            key = self.secret_key.get_secret_value()
        elif self.is_sqlite:
            key = _embedded_key(self.sqlite_path())
        else:
            raise ConfigurationError("PTA_SECRET_KEY is required when the database is not SQLite")
        if len(key.encode()) < MIN_SECRET_KEY_BYTES:
            raise ConfigurationError(
                f"PTA_SECRET_KEY must be at least {MIN_SECRET_KEY_BYTES} bytes long"
            )
        return key


_memory_key = secrets.token_urlsafe(48)


def _embedded_key(db_path: Path | None) -> str:
    if db_path is None:
        return _memory_key
    key_path = db_path.with_name(db_path.name + ".key")
    if not key_path.exists():
        key_path.parent.mkdir(parents=True, exist_ok=True)
        key_path.touch(mode=0o600)
        key_path.write_text(secrets.token_urlsafe(48))
    return key_path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()


def misspelt_variables(environ: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """``PTA_`` variables (in the environment or .env) that are no setting but look like one:
    (given, the closest known name)."""
    given = set(os.environ if environ is None else environ)
    if environ is None and Path(ENV_FILE).is_file():
        from dotenv import dotenv_values  # a dependency of pydantic-settings

        given |= set(dotenv_values(ENV_FILE))
    known = [ENV_PREFIX + name.upper() for name in Settings.model_fields]
    found = []
    for name in sorted(given):
        if name.upper().startswith(ENV_PREFIX) and name.upper() not in known:
            close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=0.8)
            if close:
                found.append((name, close[0]))
    return found
