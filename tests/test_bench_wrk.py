"""The benchmark's status-update script (bench/wrk/status_update.lua) under wrk, against a stub
of the one endpoint it calls that keeps the service's contract for it: a caller's X-Request-ID
is echoed only if it is a UUID, If-Match must name the case's version (else 412), and a 2xx
answer's ETag is the next version. The script must keep every case going for the whole run,
pass after pass, and stop loudly if it cannot tell which case an answer is for."""

from __future__ import annotations

import re
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bench import measure
from tests.tools import missing

pytestmark = pytest.mark.slow

CASES = [str(uuid.UUID(int=n)) for n in range(1, 11)]
PATH = re.compile(r"^/api/v1/cases/([0-9a-f-]{36})/transitions$")


class Stub(ThreadingHTTPServer):
    """Case versions and the statuses answered; ``echo`` False plays a service that replaces
    every caller's request id."""

    daemon_threads = True

    def __init__(self, *, echo: bool) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.echo = echo
        self.versions = dict.fromkeys(CASES, 1)
        self.statuses: Counter[int] = Counter()
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # wrk hangs up when it stops
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects
    server: Stub

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        given = self.headers.get("X-Request-ID", "")
        request_id = given if self.server.echo and _is_uuid(given) else str(uuid.uuid4())
        found = PATH.match(self.path)
        with self.server.lock:
            case = found[1] if found else ""
            version = self.server.versions.get(case)
            if version is None:
                status = 404
            elif self.headers.get("If-Match") != f'"{version}"':
                status = 412
            else:
                status = 200
                version += 1
                self.server.versions[case] = version
            self.server.statuses[status] += 1
        body = b"{}"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Request-ID", request_id)
        if status == 200:
            self.send_header("ETag", f'"{version}"')
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


@pytest.fixture
def stub(request: pytest.FixtureRequest) -> Iterator[Stub]:
    if not measure.have_wrk():
        missing("wrk is not installed: apt-get install -y wrk")
    server = Stub(echo=request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _run(stub: Stub, tmp_path: Path) -> measure.Result:
    data = measure.write_lua_data(
        tmp_path / "data.lua",
        {
            "auth": "Bearer x",
            "cases": CASES,
            "versions": [stub.versions[case] for case in CASES],
            "body": '{"action": "decide"}',
        },
    )
    return measure.wrk(stub.base, "status_update.lua", data, conns=4, seconds=2)


@pytest.mark.parametrize("stub", [True], indirect=True)
def test_the_status_update_script_keeps_every_case_going_for_the_whole_run(
    stub: Stub, tmp_path: Path
) -> None:
    result = _run(stub, tmp_path)

    assert result.failures == 0, result.detail
    assert stub.statuses[412] == 0 and stub.statuses[404] == 0, stub.statuses
    assert result.transactions > 5 * len(CASES), result  # many passes over its cases
    assert min(stub.versions.values()) > 5, stub.versions  # every case, again and again


@pytest.mark.parametrize("stub", [False], indirect=True)
def test_the_status_update_script_stops_saying_so_when_answers_lose_their_request_id(
    stub: Stub, tmp_path: Path
) -> None:
    with pytest.raises(RuntimeError, match="not one this script sent"):
        _run(stub, tmp_path)
