"""The outermost layer of every request: request id, body size limit, catch-all for bugs, the
request metrics, and one JSON log line (ids, role, route template, status, duration — nothing
personal: the route is the template, never the path or the query)."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import logs, metrics
from app.api.problems import internal_error, problem

MAX_BODY_BYTES = 1024 * 1024
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

log = logging.getLogger("pta.request")


class _TooLarge(Exception):
    pass


class RequestMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        request_id_header = (b"x-request-id", request_id.encode())
        log_context = logs.request_id.set(request_id)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", []), request_id_header]
            await send(message)

        try:
            length = int(headers.get(b"content-length", b"0") or 0)
        except ValueError:
            length = 0
        try:
            if length > MAX_BODY_BYTES:
                raise _TooLarge
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
            duration = time.perf_counter() - started
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
            logs.request_id.reset(log_context)


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
