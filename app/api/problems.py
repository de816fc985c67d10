"""The one mapping from errors to HTTP: every 4xx/5xx is ``application/problem+json``
(RFC 9457) with a stable ``code``, and never a stack trace, SQL or internal name."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from itertools import islice
from typing import Any

import asyncpg
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from app.errors import DomainError, RateLimited
from app.schemas.common import Problem

log = logging.getLogger("pta.errors")

MEDIA_TYPE = "application/problem+json"

STATUS_OF_CODE: Mapping[str, int] = {
    "unauthorized": 401,
    "forbidden": 403,
    "four_eyes": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "invalid_transition": 409,
    "conflict": 409,
    "precondition_failed": 412,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "validation_error": 422,
    "idempotency_key_reused": 422,
    "precondition_required": 428,
    "rate_limited": 429,
    "internal_error": 500,
    "service_unavailable": 503,
    "headers_too_large": 431,
}

#: A 422 lists at most this many errors (a body of 90,000 unknown keys answers 50, not 90,000).
MAX_ERRORS = 50

CODE_OF_STATUS: Mapping[int, str] = {
    400: "validation_error",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    500: "internal_error",
    503: "service_unavailable",
}


def problem(
    status: int,
    code: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": f"urn:pta:problem:{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
    }
    if errors is not None:
        body["errors"] = errors
    all_headers = dict(headers or {})
    if status == 401:
        all_headers.setdefault("WWW-Authenticate", "Bearer")
    return Response(
        orjson.dumps(body), status_code=status, media_type=MEDIA_TYPE, headers=all_headers
    )


def clean_errors(errors: Iterable[Any]) -> list[dict[str, Any]]:
    """Validation errors without the rejected input (it may be a name or a narrative)."""
    return [
        {
            "loc": list(error.get("loc", ())),
            "msg": str(error.get("msg", "")),
            "type": str(error.get("type", "")),
        }
        for error in islice(errors, MAX_ERRORS)
    ]


def validation_problem(
    request: Request, errors: Sequence[Any], detail: str | None = None
) -> Response:
    cleaned = clean_errors(errors)
    if detail is None:
        first = cleaned[0] if cleaned else None
        detail = (
            f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
            if first
            else "Invalid request."
        )
    return problem(422, "validation_error", detail, instance=request.url.path, errors=cleaned)


def domain_problem(request: Request, error: DomainError) -> Response:
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, RateLimited) else None
    errors = getattr(error, "errors", None)
    return problem(
        STATUS_OF_CODE.get(error.code, 400),
        error.code,
        error.detail,
        instance=request.url.path,
        errors=clean_errors(errors) if errors is not None else None,
        headers=headers,
    )


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (for the ``Allow`` header of a 405)."""
    path = request.scope["path"]
    methods: set[str] = set()
    for route in request.app.state.routes:
        if route.methods and route.path_regex.match(path):
            methods |= set(route.methods)
    if "GET" in methods:
        methods.add("HEAD")  # answered for every GET route (by the request middleware)
    return sorted(methods)


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(request: Request, error: DomainError) -> Response:
        return domain_problem(request, error)

    @app.exception_handler(RequestValidationError)
    async def _request_validation(request: Request, error: RequestValidationError) -> Response:
        return validation_problem(request, error.errors())

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        status = error.status_code
        code = CODE_OF_STATUS.get(status, "validation_error" if status < 500 else "internal_error")
        headers = dict(error.headers or {})
        detail = error.detail if isinstance(error.detail, str) else None
        if status == 404:
            detail = "Nothing is served at this path."
        if status == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
            detail = f"{request.method} is not allowed here; allowed: {headers['Allow']}."
        return problem(status, code, detail, instance=request.url.path, headers=headers)

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(request: Request, _error: ClientDisconnect) -> Response:
        # The client hung up before its body arrived: nobody reads this answer, and it is
        # not our failure (no 500 in the metrics, no error in the log).
        log.info("client disconnected before its body arrived")
        detail = "The request body did not arrive: the client closed the connection."
        return problem(400, "validation_error", detail, instance=request.url.path)

    # A database that refuses or drops connections: the driver's own network errors (asyncpg
    # raises ConnectionRefusedError, or TimeoutError past its connect timeout, unwrapped).
    @app.exception_handler(ConnectionError)
    @app.exception_handler(TimeoutError)
    @app.exception_handler(asyncpg.InternalClientError)  # a connection the server dropped
    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _unavailable(request: Request, error: Exception) -> Response:
        log.warning("database unavailable", extra={"error_type": type(error).__name__})
        return problem(
            503,
            "service_unavailable",
            "The database is not answering; try again shortly.",
            instance=request.url.path,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(asyncpg.PostgresError)
    @app.exception_handler(asyncpg.InterfaceError)
    @app.exception_handler(DBAPIError)
    async def _database(request: Request, error: Exception) -> Response:
        # Requests on PostgreSQL run on asyncpg directly (its errors arrive unwrapped);
        # everything else goes through SQLAlchemy (DBAPIError wrapping the driver's error).
        if getattr(error, "connection_invalidated", False) or _is_unavailable(error):
            return await _unavailable(request, error)
        if _sqlstate(error) in UNSTORABLE_STATES:
            return problem(
                422,
                "validation_error",
                "A text holds a character that cannot be stored (such as NUL).",
                instance=request.url.path,
            )
        return internal_error(request.url.path, error)


def internal_error(path: str, error: BaseException) -> Response:
    """A bug: logged by type only (an exception's text can quote personal data)."""
    extra = {"error_type": type(error).__name__, "where": _where(error)}
    if isinstance(error, DBAPIError) and error.orig is not None:
        extra["driver_error"] = type(error.orig).__name__
    log.error("unhandled error", extra=extra)
    return problem(500, "internal_error", "Something went wrong on our side.", instance=path)


#: SQLSTATE classes that mean "the database cannot serve now": 08 connection exception,
#: 53 insufficient resources (too many connections, disk full), 57 operator intervention
#: (57014 statement timeout, 57P01 admin shutdown, 57P03 cannot connect now); and single
#: states: 55P03 lock timeout, 25P03 idle-in-transaction timeout.
UNAVAILABLE_CLASSES = frozenset({"08", "53", "57"})
UNAVAILABLE_STATES = frozenset({"55P03", "25P03"})
UNAVAILABLE_NAMES = frozenset(
    {
        "QueryCanceledError",
        "ConnectionDoesNotExistError",
        "CannotConnectNowError",
        "InterfaceError",
        "ConnectionRefusedError",
        "AdminShutdownError",
        "TooManyConnectionsError",
    }
)


#: text PostgreSQL cannot store: 22021 (a NUL character), 22P05 (untranslatable character)
UNSTORABLE_STATES = frozenset({"22021", "22P05"})


def _causes(error: Exception) -> list[BaseException]:
    """The error itself and the driver errors behind it."""
    orig = getattr(error, "orig", None)
    found = [error, orig, getattr(orig, "__cause__", None)]
    return [cause for cause in found if cause is not None]


def _sqlstate(error: Exception) -> str | None:
    for cause in _causes(error):
        state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
        if isinstance(state, str):
            return state
    return None


def _is_unavailable(error: Exception) -> bool:
    """The driver's error (SQLAlchemy's asyncpg adapter wraps asyncpg's as its ``__cause__``)."""
    for cause in _causes(error):
        if type(cause).__name__ in UNAVAILABLE_NAMES:
            return True
        state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
        if isinstance(state, str) and (
            state[:2] in UNAVAILABLE_CLASSES or state in UNAVAILABLE_STATES
        ):
            return True
    return False


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error statuses, each with the problem schema."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "model": Problem,
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def _where(error: BaseException) -> str:
    """File and line where a bug surfaced in our code (no message: it may quote data)."""
    frame = error.__traceback__
    where = "?"
    while frame is not None:
        code = frame.tb_frame.f_code
        if "/app/" in code.co_filename:
            where = f"{code.co_filename.rsplit('/app/', 1)[1]}:{frame.tb_lineno} in {code.co_name}"
        frame = frame.tb_next
    return where
