"""``pta serve``: migrate, then serve the API."""

from __future__ import annotations

import argparse
import errno
import socket

from app import logs, migrate
from app.cli.common import log, prepare, public_url
from app.config import ConfigurationError, Settings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="migrate the database, then serve the API",
        description="Migrate the database to the newest schema, then serve the API, /docs "
        "and /dashboard. Logs are JSON lines on stderr.",
    )
    serve.add_argument(
        "--host", help="address to listen on (default: PTA_HOST, or 127.0.0.1; 0.0.0.0 for all)"
    )
    serve.add_argument(
        "--port", type=port_number, help="TCP port to listen on (default: PTA_PORT, or 8000)"
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes behind one socket; one per core is a good start (default: 1)",
    )
    serve.set_defaults(handler=cmd_serve)


def port_number(text: str) -> int:
    """A TCP port for --port, as PTA_PORT takes it (1 to 65535)."""
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: give a number from 1 to 65535")
    return port


def check_can_listen(host: str, port: int) -> None:
    """Refuse at once, in one line that says what to do, an address this machine cannot listen
    on (the port taken by another server, an address that is not this machine's, a port
    below 1024 without root), rather than uvicorn's bind error; the server binds for real
    right after."""
    change = "choose another with --port N or PTA_PORT=N (make run PORT=N)"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror:
        raise ConfigurationError(
            f"cannot listen on {host!r}: not an address of this machine: use --host or "
            "PTA_HOST (127.0.0.1 for this machine only, 0.0.0.0 for every network)"
        ) from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server's socket
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise ConfigurationError(
                    f"port {port} on {host} is already in use (another pta serve?): {change}"
                ) from None
            if error.errno == errno.EACCES:
                raise ConfigurationError(
                    f"port {port} needs root to listen on: {change} (1024 or above)"
                ) from None
            raise ConfigurationError(
                f"cannot listen on {host}:{port} ({error.strerror}): use --host or PTA_HOST "
                "(127.0.0.1 for this machine only, 0.0.0.0 for every network)"
            ) from None


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import os
    import shutil
    import tempfile
    from pathlib import Path

    import uvicorn

    from app.cli.protocol import GuardedH11Protocol

    logs.capture_everything()  # stray prints and tracebacks become JSON lines too
    if settings.is_sqlite and settings.sqlite_path() is None:
        raise ConfigurationError("pta serve needs a database file or server, not :memory:")
    settings.signing_key()  # refuse to start with a missing or short key, before migrating
    prepare(settings)
    log.info("migrating the database to the newest schema")
    migrate.upgrade(settings)
    host, port = args.host or settings.host, args.port or settings.port
    check_can_listen(host, port)
    # Every worker's request metrics go to prometheus-client's multiprocess files, so that any
    # worker's /metrics counts them all: a fresh directory per run (or the operator's, emptied).
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    metrics_dir = Path(given or tempfile.mkdtemp(prefix="pta-metrics-"))
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    where = {"host": host, "port": port, "workers": args.workers}
    url = public_url(settings, host, port)
    log.info("serving", extra={**where, "url": url, "metrics_dir": str(metrics_dir)})
    try:
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            host=host,
            port=port,
            workers=args.workers,
            log_config=logs.uvicorn_log_config(settings.log_level),
            access_log=False,
            proxy_headers=False,
            server_header=False,
            http=GuardedH11Protocol,  # 431 over 32 KiB of head, 10 s to send it, problem+json
            timeout_graceful_shutdown=20,  # in-flight requests finish after SIGTERM
            timeout_keep_alive=75,  # longer than the usual proxy idle timeout (60 s)
        )
    finally:
        if not given:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0
