"""The outermost layer of every request: request id, body size limit, a bound on concurrent
API requests per worker, ``HEAD`` for every ``GET``, the no-store/nosniff headers, catch-all
for bugs, the request metrics, and one JSON log line (ids, role, route template, status,
duration — nothing personal: the route is the template, never the path or the query)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import logs, metrics
from app.api.problems import internal_error, problem

MAX_BODY_BYTES = 1024 * 1024
#: A caller's request id is kept only when it is a UUID: anything else may be a document
#: number or a date of birth, and it goes into every log line.
_REQUEST_ID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
API_PREFIX = "/api/v1"
#: Every API answer: case data must not sit in a proxy's or browser's cache (RFC 6749 §5.1
#: requires it for tokens), and a browser must not guess another content type.
API_HEADERS = [(b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff")]

log = logging.getLogger("pta.request")


class _TooLarge(Exception):
    pass


class RequestMiddleware:
    def __init__(self, app: ASGIApp, max_requests: int | None = None) -> None:
        self.app = app
        #: API requests this worker serves at once; beyond, 503 with Retry-After
        self.max_requests = max_requests
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        request_id = _request_id(headers)
        request_id_header = (b"x-request-id", request_id.encode())
        log_context = logs.request_id.set(request_id)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500
        response_started = False
        api = scope["path"].startswith(API_PREFIX)
        extra_headers = [request_id_header, *(API_HEADERS if api else [])]
        head = scope["method"] == "HEAD"
        if head:  # answered as the GET would be, without its body (RFC 9110 §9.3.2)
            scope = {**scope, "method": "GET"}

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", []), *extra_headers]
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        length = _declared_length(headers)
        counted = api and self.max_requests is not None
        try:
            if length > MAX_BODY_BYTES:
                raise _TooLarge
            if counted and self.in_flight >= (self.max_requests or 0):
                counted = False
                await _busy(scope["path"])(scope, receive, send_with_id)
                return
            if counted:
                self.in_flight += 1
            await self.app(scope, _limited(receive), send_with_id)
        except _TooLarge:
            if not response_started:
                await problem(
                    413,
                    "payload_too_large",
                    f"The request body is larger than {MAX_BODY_BYTES} bytes.",
                    instance=scope["path"],
                )(scope, receive, send_with_id)
        except Exception as error:
            if not response_started:
                await internal_error(scope["path"], error)(scope, receive, send_with_id)
        finally:
            if counted:
                self.in_flight -= 1
            _account(scope, state, request_id, status, time.perf_counter() - started)
            logs.request_id.reset(log_context)


def _request_id(headers: dict[bytes, bytes]) -> str:
    """The caller's X-Request-ID if it is a UUID (anything else could carry personal data
    into the logs), else a new one."""
    given = headers.get(b"x-request-id", b"").decode("latin-1")
    return given if _REQUEST_ID.match(given) else str(uuid.uuid4())


def _declared_length(headers: dict[bytes, bytes]) -> int:
    try:
        return int(headers.get(b"content-length", b"0") or 0)
    except ValueError:
        return 0


def _busy(path: str) -> Response:
    return problem(
        503,
        "service_unavailable",
        "The service is serving as many requests as it can; try again shortly.",
        instance=path,
        headers={"Retry-After": "1"},
    )


def _account(
    scope: Scope, state: dict[str, Any], request_id: str, status: int, duration: float
) -> None:
    """One metrics observation and one JSON log line per request."""
    route = route_template(scope)
    metrics.observe_request(scope["method"], route, status, duration)
    log.info(
        "request",
        extra={
            "request_id": request_id,
            "method": scope["method"],
            "route": route,
            "status": status,
            "duration_ms": round(duration * 1000, 2),
            "user_id": state.get("user_id"),
            "role": state.get("role"),
        },
    )


def route_template(scope: Scope) -> str | None:
    """The matched route's path template (``/api/v1/cases/{case_id}``), or None when nothing
    matched. Our routers carry their full prefix, so the route's own path is the template.
    Routes FastAPI adds itself (``/openapi.json``, ``/docs``) leave only their endpoint in the
    scope: their path has no parameters, so it is its own template."""
    route = scope.get("route")
    # path_format drops converters: /cases/{case_id:uuid} is logged as /cases/{case_id}
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if scope.get("endpoint") is not None and not scope.get("path_params"):
        return str(scope["path"])
    return None


def _limited(receive: Receive) -> Receive:
    received = 0

    async def receive_limited() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > MAX_BODY_BYTES:
                raise _TooLarge
        return message

    return receive_limited
