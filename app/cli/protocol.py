"""``pta serve``'s HTTP protocol: uvicorn's h11 protocol with the limits the contract puts on
a request head, so a deployment without a proxy is safe too — a head over 32 KiB answers 431,
a connection that has not sent a whole head within 10 s is closed, and a malformed request
answers problem+json instead of uvicorn's plain text."""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import orjson
from uvicorn.protocols.http.h11_impl import H11Protocol

#: The whole request head (request line and headers) may hold at most this many bytes.
MAX_HEAD_BYTES = 32 * 1024
#: A connection must send a whole request head within this many seconds.
HEAD_TIMEOUT_SECONDS = 10.0


class _Connection(h11.Connection):
    """Remembers the status h11 suggests for the last protocol error (431 for a head too
    long)."""

    error_status = 400

    def next_event(self) -> Any:
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as error:
            self.error_status = error.error_status_hint
            raise
        # h11 bounds only a head still arriving; one that came whole is measured here.
        if isinstance(event, h11.Request) and _head_bytes(event) > MAX_HEAD_BYTES:
            self.error_status = 431
            raise h11.RemoteProtocolError("request head too large", error_status_hint=431)
        return event


def _head_bytes(request: h11.Request) -> int:
    line = len(request.method) + len(request.target) + len(b" HTTP/1.1\r\n") + 1
    return line + sum(len(name) + len(value) + 4 for name, value in request.headers) + 2


class GuardedH11Protocol(H11Protocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._guarded = _Connection(h11.SERVER, MAX_HEAD_BYTES)
        self.conn = self._guarded
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            self._arm_head_timer()  # the first bytes of a request on a kept-alive connection
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm_head_timer()  # the head is in

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(HEAD_TIMEOUT_SECONDS, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        status = 431 if self._guarded.error_status == 431 else 400
        code, detail = (
            ("headers_too_large", f"The request head is larger than {MAX_HEAD_BYTES} bytes.")
            if status == 431
            else ("validation_error", "The request is not valid HTTP.")
        )
        title = "Request Header Fields Too Large" if status == 431 else "Bad Request"
        body = orjson.dumps(
            {
                "type": f"urn:pta:problem:{code}",
                "title": title,
                "status": status,
                "detail": detail,
                "instance": None,
                "code": code,
            }
        )
        headers = [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        try:
            self.transport.write(
                self.conn.send(h11.Response(status_code=status, headers=headers, reason=title))
                or b""
            )
            self.transport.write(self.conn.send(h11.Data(data=body)) or b"")
            self.transport.write(self.conn.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError:  # nothing can be answered on this connection any more
            pass
        self.transport.close()
