"""JSON logs, one object per line, for everything the service writes. Only ids, roles, routes,
statuses and timings are ever logged: never a name, a date of birth, a document or a narrative.

``configure()`` sets up the process that runs a ``pta`` command; ``uvicorn_log_config()`` is
applied by uvicorn in that process and in every worker process it spawns, so the workers log
the same way (their root logger, warnings, uncaught exceptions, and stray writes to stdout and
stderr all end up as JSON lines)."""

from __future__ import annotations

import io
import logging
import sys
import threading
from contextvars import ContextVar
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TextIO

import orjson

#: LogRecord attributes that are not "extra" fields.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
#: Extras that other libraries attach and that only duplicate the message (uvicorn's ANSI copy).
_DROPPED = frozenset({"color_message"})

#: The id of the request being served (set by RequestMiddleware), added to every log line
#: written while serving it, so that an error line can be matched with its request line.
request_id: ContextVar[str | None] = ContextVar("pta_request_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        current = request_id.get()
        if current is not None:
            entry["request_id"] = current
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in _DROPPED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error_type"] = record.exc_info[0].__name__  # the type only, never the text
        return orjson.dumps(entry, default=str).decode()


#: Loggers whose info and debug lines are written; other libraries only from WARNING up
#: (aiosqlite logs every statement with its parameters at DEBUG, python-multipart the form data).
_OURS = ("pta", "uvicorn", "alembic")


class OnlyOurs(logging.Filter):
    """Below WARNING, only our loggers, uvicorn's and alembic's: a third-party library's debug
    output can quote request data, whatever PTA_LOG_LEVEL says."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            return True
        name = record.name
        return any(name == ours or name.startswith(ours + ".") for ours in _OURS)


class JsonLines(io.TextIOBase):
    """Stands in for ``sys.stdout`` / ``sys.stderr``: a line that is already a JSON object
    passes through; any other line (a library's print, a traceback printed by
    ``multiprocessing``) is wrapped as ``{"logger": "stderr", "message": <line>}``."""

    def __init__(self, target: TextIO, name: str) -> None:
        super().__init__()
        self.target, self.name, self._partial = target, name, ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            *lines, self._partial = (self._partial + text).split("\n")
            for line in lines:
                self._emit(line)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._partial:
                self._emit(self._partial)
                self._partial = ""
        self.target.flush()

    def fileno(self) -> int:
        return self.target.fileno()

    def isatty(self) -> bool:
        return False

    def _emit(self, line: str) -> None:
        if not line.strip():
            return
        if not _is_json_object(line):
            line = orjson.dumps(
                {
                    "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "level": "error" if self.name == "stderr" else "info",
                    "logger": self.name,
                    "message": line.rstrip(),
                }
            ).decode()
        self.target.write(line + "\n")


def _is_json_object(line: str) -> bool:
    if not line.startswith("{"):
        return False
    try:
        return isinstance(orjson.loads(line), dict)
    except orjson.JSONDecodeError:
        return False


def _real_stderr() -> TextIO:
    """Where log lines go: standard error, under the wrapper if there is one."""
    stream = sys.stderr
    return stream.target if isinstance(stream, JsonLines) else stream


def _excepthook(
    kind: type[BaseException], error: BaseException, trace: TracebackType | None
) -> None:
    logging.getLogger("pta").critical("uncaught exception", exc_info=(kind, error, trace))


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    error = args.exc_value if args.exc_value is not None else args.exc_type()
    _excepthook(args.exc_type, error, args.exc_traceback)


def _unraisablehook(unraisable: sys.UnraisableHookArgs) -> None:
    logging.getLogger("pta").error(
        "unraisable exception", extra={"error_type": type(unraisable.exc_value).__name__}
    )


def capture_everything() -> None:
    """Make every line this process writes a JSON object: warnings and uncaught exceptions go
    through logging, and stray writes to stdout/stderr are wrapped. Idempotent."""
    logging.captureWarnings(True)
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook
    sys.unraisablehook = _unraisablehook
    if not isinstance(sys.stderr, JsonLines):
        sys.stderr = JsonLines(sys.stderr, "stderr")
    if not isinstance(sys.stdout, JsonLines):
        sys.stdout = JsonLines(sys.stdout, "stdout")


def json_handler() -> logging.Handler:
    """The one handler: JSON lines on the real standard error."""
    handler = logging.StreamHandler(_real_stderr())
    handler.setFormatter(JsonFormatter())
    handler.addFilter(OnlyOurs())
    return handler


def serving_handler() -> logging.Handler:
    """The handler uvicorn's log config builds in the server and in each worker process:
    it also captures everything else the process writes (see ``capture_everything``)."""
    capture_everything()
    return json_handler()


def _level(name: str) -> str:
    """A level logging knows (PTA_LOG_LEVEL), else INFO: a typo must not stop the service."""
    name = name.strip().upper()
    return name if isinstance(logging.getLevelName(name), int) else "INFO"


def configure(level: str = "INFO") -> None:
    root = logging.getLogger()
    root.handlers[:] = [json_handler()]
    root.setLevel(_level(level))
    if _level(level) != level.strip().upper():
        logging.getLogger("pta").warning("unknown PTA_LOG_LEVEL, using INFO")
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic", "sqlalchemy"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # one line per request comes from us


def uvicorn_log_config(level: str = "INFO") -> dict[str, Any]:
    """uvicorn's logging for ``pta serve``: the root logger writes JSON in every process
    (worker processes start with unconfigured logging), uvicorn's own loggers go through it,
    and uvicorn's access log is off (RequestMiddleware writes one line per request)."""
    level = _level(level)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"json": {"()": "app.logs.serving_handler"}},
        "root": {"handlers": ["json"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


#: Kept for callers that want the default level.
UVICORN_LOG_CONFIG: dict[str, Any] = uvicorn_log_config()
