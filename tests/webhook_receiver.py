"""A real HTTP receiver on 127.0.0.1 for the webhook tests: a state's system as it would be,
recording every request it gets and answering as the test tells it (a status, after a
delay), in a thread of its own."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook

from tests.live_server import free_port

#: the webhook tests' ports (other suites use other ranges)
PORTS = range(18700, 18750)
#: an answer slower than this is later than every timeout the tests configure
QUICK = 0.3


@dataclass(frozen=True)
class Answer:
    status: int = 200
    delay: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered
    at: float  # time.monotonic() when it arrived
    delay: float  # how long the receiver took to answer
    peer: tuple[str, int]  # the sender's address and port: one per connection

    @property
    def in_time(self) -> bool:
        """Answered 2xx sooner than any test's timeout."""
        return 200 <= self.status < 300 and self.delay < QUICK

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> Any:
        return json.loads(self.body)

    def verified(self, secret: str) -> Any:
        """The body, once the standardwebhooks library accepts the signature (else it raises)."""
        return Webhook(secret).verify(self.body, self.headers)


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: deque[Answer] = deque()
        self.default = Answer()
        self.lock = threading.Lock()
        self.port = free_port(PORTS)
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, *answers: Answer, default: Answer | None = None) -> None:
        """Answer the next requests with ``answers``, then with ``default``."""
        with self.lock:
            self.script.extend(answers)
            if default is not None:
                self.default = default

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def delivered(self, path: str | None = None) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.in_time and (path is None or r.path == path)]

    def wait_for(self, count: int, timeout: float = 10.0, path: str | None = None) -> None:
        deadline = time.monotonic() + timeout
        while len(self.delivered(path)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.delivered(path))} of {count} messages arrived")
            time.sleep(0.05)

    def _next(self) -> Answer:
        with self.lock:
            return self.script.popleft() if self.script else self.default

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # a sender may keep its connection

            def do_POST(self) -> None:
                arrived = time.monotonic()
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:  # the sender went away mid-request: nothing arrived
                    self.close_connection = True
                    return
                answer = receiver._next()
                record = Received(
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    answer.status,
                    arrived,
                    answer.delay,
                    self.client_address[:2],
                )
                with receiver.lock:
                    receiver.received.append(record)
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers:
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    pass  # the sender gave up waiting (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
