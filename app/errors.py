"""Domain errors, each with a stable machine ``code``. HTTP statuses live in api/problems.py."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Unauthorized(DomainError):
    code = "unauthorized"


class RateLimited(DomainError):
    code = "rate_limited"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class NotFound(DomainError):
    code = "not_found"


class Forbidden(DomainError):
    code = "forbidden"


class FourEyes(Forbidden):
    code = "four_eyes"


class PreconditionRequired(DomainError):
    code = "precondition_required"


class PreconditionFailed(DomainError):
    code = "precondition_failed"


class InvalidTransition(DomainError):
    code = "invalid_transition"


class Conflict(DomainError):
    code = "conflict"


class ValidationFailed(DomainError):
    """Input that is well-formed JSON but breaks a rule checked outside the schemas."""

    code = "validation_error"

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or []


class UnsupportedMediaType(DomainError):
    code = "unsupported_media_type"


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"


class ServiceUnavailable(DomainError):
    code = "service_unavailable"
