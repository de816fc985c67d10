"""A local webhook receiver for the benchmark: answers every POST with 204 at once and counts
what it got — the receiving state's system, as cheap as one can be, because it runs on the
cores being measured (an asyncio protocol on its own thread and loop, connections kept alive;
Python's http.server cost about 0.35 ms of CPU a message)."""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType

ANSWER = b"HTTP/1.1 204 No Content\r\n\r\n"


class _Connection(asyncio.Protocol):
    """Requests one after another on one connection: a head, then ``content-length`` bytes."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.receiver.connections.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.receiver.connections.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            headers = {}
            for line in self.buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get(b"content-length", b"0"))
            if len(self.buffer) < end + 4 + length:
                return  # the body is still on its way
            self.buffer = self.buffer[end + 4 + length :]
            self.receiver.count += 1
            self.receiver.ids.add(headers.get(b"webhook-id", b"").decode())
            assert self.transport is not None
            self.transport.write(ANSWER)


class Receiver:
    def __init__(self, port: int) -> None:
        self.port = port
        self.count = 0
        self.ids: set[str] = set()
        self.connections: set[asyncio.Transport] = set()
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.Server | None = None
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bench"

    def __enter__(self) -> Receiver:
        self.thread.start()
        listening = self.loop.create_server(lambda: _Connection(self), "127.0.0.1", self.port)
        self.server = asyncio.run_coroutine_threadsafe(listening, self.loop).result(timeout=10)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        async def close() -> None:
            assert self.server is not None
            self.server.close()
            for transport in list(self.connections):
                transport.close()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()
