"""Capture the SQL the service issues for one request, and turn it into a pgbench script.

The capture reads PostgreSQL's own log: the bench database gets
``log_min_duration_statement = 0`` while the service serves one request per operation, so
whatever issues the SQL (SQLAlchemy, raw asyncpg, a CTE the lead writes) the log shows every
statement as the server ran it: ``statement: BEGIN;`` for simple queries, ``execute <name>: …``
plus ``DETAIL: parameters: $1 = '…'`` for prepared ones.

Turning a captured transaction into a pgbench script (``to_pgbench``), each parameter becomes:
1. a per-request input the operation names (the case id → ``case_id_sql(':n')`` drawn at
   random, the caller's user id → ``:uid``);
2. the If-Match version → the ``version`` column of the first earlier read of the case
   (that statement gets ``\\aset sK_``), so the UPDATE matches a row exactly as the service's;
3. a value a sequence generated during the request (an ``INSERT … RETURNING id``) → that
   INSERT's returned column, via ``\\aset``;
4. a UUID found in the last row of an earlier read (the latest submission's id, …) → that
   read's column, via ``\\aset``;
5. anything else (timestamps, JSON payloads, the page's 50 case ids) → a constant, passed as
   ``-D cN=…`` so it stays a bound parameter, as in the service (plans are the same).
"""

from __future__ import annotations

import itertools
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

HEAD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
MESSAGE = re.compile(
    r"^(?P<prefix>.*?)(?P<sev>LOG|DETAIL|ERROR|STATEMENT|HINT|CONTEXT|WARNING|NOTICE|FATAL):  "
    r"(?P<body>.*)$",
    re.DOTALL,
)
DURATION = re.compile(
    r"^duration: [\d.]+ ms  (?P<kind>statement|execute|parse|bind)(?P<name>[^:]*): (?P<sql>.*)$",
    re.DOTALL,
)
PARAM = re.compile(r"\$(\d+) = (NULL|'((?:[^']|'')*)')(?:, |$)", re.DOTALL)
PLACEHOLDER = re.compile(r"\$(\d+)\b")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
INSERT_INTO = re.compile(r"^\s*INSERT\s+INTO\s+\"?(\w+)\"?", re.IGNORECASE)
WRITES = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)


@dataclass
class Statement:
    pid: int
    sql: str
    params: list[str | None] | None = None  # None: simple query protocol
    kind: str = "statement"

    def signature(self) -> str:
        return " ".join(self.sql.split())


def server_log(port: int = 5432) -> Path:
    """Where this cluster writes its log (Debian: pg_lsclusters)."""
    try:
        out = subprocess.run(
            ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True
        ).stdout
        for line in out.splitlines():
            fields = line.split()
            if len(fields) >= 7 and fields[2] == str(port) and fields[6] != "<unknown>":
                return Path(fields[6])
    except (OSError, subprocess.CalledProcessError):
        pass
    logs = sorted(Path("/var/log/postgresql").glob("postgresql-*.log"))
    if not logs:
        raise RuntimeError("cannot find the PostgreSQL server log: set BENCH_PG_LOG")
    return logs[-1]


class LogTail:
    """Read what the server logged since the last mark."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size

    def mark(self) -> None:
        self.offset = self.path.stat().st_size

    def read(self) -> str:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            data = log.read()
        self.offset += len(data)
        return data.decode("utf-8", "replace")


def parse_params(text: str) -> list[str | None]:
    values: dict[int, str | None] = {}
    position = 0
    text = text.removeprefix("parameters: ").rstrip("\n")
    while position < len(text):
        match = PARAM.match(text, position)
        if match is None:
            raise ValueError(
                f"cannot read the logged parameters: {text[position : position + 80]!r}"
            )
        values[int(match[1])] = None if match[2] == "NULL" else match[3].replace("''", "'")
        position = match.end()
    if any(v is not None and v.endswith("...") for v in values.values()):
        raise ValueError("parameters are cut short: set log_parameter_max_length = -1")
    return [values[i] for i in range(1, len(values) + 1)]


def parse_log(text: str, database: str) -> list[Statement]:
    """The statements this database ran, in log order (simple queries and executes)."""
    messages: list[str] = []
    for line in text.splitlines():
        if HEAD.match(line) or not messages:
            messages.append(line)
        else:  # a statement's continuation lines start with a tab
            messages[-1] += "\n" + line.removeprefix("\t")
    statements: list[Statement] = []
    last: dict[int, Statement] = {}
    for message in messages:
        match = MESSAGE.match(message)
        if match is None:
            continue
        prefix = match["prefix"]
        db = re.search(r"@(\S+)\s*$", prefix)
        if db is not None and db[1] != database:
            continue
        pid_match = re.search(r"\[(\d+)\]", prefix)
        pid = int(pid_match[1]) if pid_match else 0
        body = match["body"]
        if match["sev"] == "LOG":
            duration = DURATION.match(body)
            if duration is None:
                continue
            kind, name = duration["kind"], duration["name"]
            entry = Statement(pid, duration["sql"].rstrip(), kind=kind)
            last[pid] = entry
            if kind == "statement" or (kind == "execute" and "fetch from" not in name):
                statements.append(entry)
        elif match["sev"] == "DETAIL" and body.startswith("parameters: ") and pid in last:
            last[pid].params = parse_params(body)
    for entry in statements:
        if entry.kind == "execute" and entry.params is None:
            entry.params = []
    return statements


def by_connection(statements: Sequence[Statement]) -> list[Statement]:
    """One connection's statements after another's (in order of first appearance): a request
    that uses two connections (the reports replica's engine, say) becomes a sequence pgbench
    can replay on one connection, each transaction whole."""
    order: dict[int, list[Statement]] = {}
    for statement in statements:
        order.setdefault(statement.pid, []).append(statement)
    return [s for group in order.values() for s in group]


def pipelines(statements: Sequence[Statement]) -> list[tuple[int, int]]:
    """Runs (first, last) of the same prepared statement executed back to back: an
    ``executemany``, which asyncpg sends as one pipeline (one round trip)."""
    runs: list[tuple[int, int]] = []
    index = 0
    while index < len(statements):
        end = index
        while (
            end + 1 < len(statements)
            and statements[index].params is not None
            and statements[end + 1].params is not None
            and statements[end + 1].sql == statements[index].sql
        ):
            end += 1
        if end > index:
            runs.append((index, end))
        index = end + 1
    return runs


def round_trips(statements: Sequence[Statement]) -> int:
    return len(statements) - sum(last - first for first, last in pipelines(statements))


# --- from a captured transaction to a pgbench script ------------------------------------------


@dataclass
class Script:
    name: str
    text: str
    defines: dict[str, str]
    statements: int
    round_trips: int = 0
    harness_statements: int = 0
    notes: list[str] = field(default_factory=list)

    def define_args(self) -> list[str]:
        return [arg for key, value in self.defines.items() for arg in ("-D", f"{key}={value}")]


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def read_back(
    conn: asyncpg.Connection, statements: Sequence[Statement]
) -> dict[int, dict[str, str]]:
    """The last row of each captured read, run again now (read-only, rolled back): where a
    later statement's UUID parameter came from."""
    rows: dict[int, dict[str, str]] = {}
    for index, statement in enumerate(statements):
        sql = statement.sql.strip().rstrip(";")
        if statement.params is None or not is_read(sql):
            continue
        args = ", ".join("NULL" if v is None else _literal(v) for v in statement.params)
        tx = conn.transaction()  # rolled back: a SELECT … FOR UPDATE only locks for a moment
        await tx.start()
        prepared = False
        name = f"bench_read_back_{next(_names)}"  # a new name: asyncpg caches by SQL text
        try:
            await conn.execute(f"PREPARE {name} AS {sql}")
            prepared = True
            result = await conn.fetch(f"EXECUTE {name}({args})" if args else f"EXECUTE {name}")
        except asyncpg.PostgresError:
            result = []
        finally:
            await tx.rollback()
            if prepared:  # prepared statements outlive the transaction
                await conn.execute(f"DEALLOCATE {name}")
        if result:
            rows[index] = {
                key: str(value) for key, value in result[-1].items() if value is not None
            }
    return rows


_names = itertools.count()


def is_read(sql: str) -> bool:
    """A SELECT (locking ones included), or a WITH that writes nothing."""
    if re.match(r"^\s*SELECT\b", sql, re.IGNORECASE):
        return True
    if not re.match(r"^\s*WITH\b", sql, re.IGNORECASE):
        return False
    return WRITES.search(re.sub(r"\bFOR\s+(NO\s+KEY\s+)?UPDATE\b", "", sql, flags=re.I)) is None


async def sequence_state(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT schemaname || '.' || sequencename AS name, coalesce(last_value, 0) AS value "
        "FROM pg_sequences"
    )
    return {row["name"]: row["value"] for row in rows}


async def sequence_columns(conn: asyncpg.Connection) -> dict[str, tuple[str, str]]:
    """sequence → (table, column) for serial and identity columns."""
    rows = await conn.fetch(
        """
        SELECT table_name, column_name,
               pg_get_serial_sequence(quote_ident(table_schema) || '.' || quote_ident(table_name),
                                      column_name) AS seq
        FROM information_schema.columns
        WHERE table_schema = 'public'
          AND (column_default LIKE 'nextval(%' OR is_identity = 'YES')
        """
    )
    return {row["seq"]: (row["table_name"], row["column_name"]) for row in rows if row["seq"]}


def fresh_values(
    before: dict[str, int], after: dict[str, int], columns: dict[str, tuple[str, str]]
) -> dict[str, tuple[str, str]]:
    """Values sequences handed out during the request → (table, column) they went to."""
    out: dict[str, tuple[str, str]] = {}
    for name, last in after.items():
        first = before.get(name, 0)
        if name in columns and 0 < last - first <= 10_000:
            for value in range(first + 1, last + 1):
                out[str(value)] = columns[name]
    return out


def to_pgbench(
    name: str,
    statements: Sequence[Statement],
    *,
    header: Sequence[str],
    known: dict[str, str],
    version: str | None = None,
    version_lookup: str | None = None,
    fresh: dict[str, tuple[str, str]] | None = None,
    reads: dict[int, dict[str, str]] | None = None,
    defines: dict[str, str] | None = None,
) -> Script:
    """A pgbench script replaying the captured transaction with per-transaction values."""
    fresh, reads = fresh or {}, reads or {}
    constants: dict[str, str] = {}
    aset: set[int] = set()
    notes: list[str] = []
    harness = 0
    connections = len({s.pid for s in statements})
    if connections > 1:
        notes.append(f"one request used {connections} connections (replayed one after another)")
    pre: list[str] = []

    def constant(value: str) -> str:
        for key, existing in constants.items():
            if existing == value:
                return f":{key}"
        key = f"c{len(constants) + 1}"
        constants[key] = value
        return f":{key}"

    def source(index: int, value: str) -> str | None:
        nonlocal harness
        if value in known:
            return known[value]
        if version is not None and value == version:
            for j in range(index):
                if "version" in reads.get(j, {}):
                    aset.add(j)
                    return f":s{j}_version"
            if version_lookup is None:
                return None
            if not pre:
                pre.append(f"{version_lookup} \\aset h_")
                harness += 1
                notes.append("the version is read by one extra statement the harness adds")
            return ":h_version"
        if value in fresh:
            table, column = fresh[value]
            for j in range(index - 1, -1, -1):
                insert = INSERT_INTO.match(statements[j].sql)
                if insert and insert[1] == table and "RETURNING" in statements[j].sql.upper():
                    aset.add(j)
                    return f":s{j}_{column}"
        if UUID.match(value):
            for j in range(index - 1, -1, -1):
                if value in (statements[j].params or []):
                    continue  # the read echoes its own parameter (… WHERE case_id IN (…))
                for column, seen in reads.get(j, {}).items():
                    if seen == value and re.fullmatch(r"[a-z_][a-z0-9_]*", column):
                        aset.add(j)
                        return f":s{j}_{column}"
        return None

    bodies: list[str] = []
    for index, statement in enumerate(statements):
        sql = statement.sql.strip().rstrip(";").strip()
        if statement.params is None:  # simple protocol: values are literals in the text
            for value, expression in known.items():
                sql = sql.replace(_literal(value), expression)
            bodies.append(sql)
            continue
        replacements: dict[int, str] = {}
        for position, param in enumerate(statement.params, start=1):
            if param is None:
                replacements[position] = "NULL"
            else:
                replacements[position] = source(index, param) or constant(param)

        def replaced(match: re.Match[str], by: dict[int, str] = replacements) -> str:
            return by[int(match[1])]

        bodies.append(PLACEHOLDER.sub(replaced, sql))

    starts = {first: last for first, last in pipelines(statements)}
    ends = set(starts.values())
    for first, last in starts.items():
        if any(first <= j <= last for j in aset):  # a pipeline cannot feed \aset variables
            ends.discard(last)
            starts[first] = -1
    fixed: dict[str, int] = {}
    for statement in statements:
        sql = statement.sql
        if statement.params is not None and WRITES.search(sql) and not is_read(sql):
            target = re.search(r"\b(?:INTO|UPDATE|FROM)\s+\"?(\w+)", sql, re.IGNORECASE)
            for param in statement.params:
                if param is not None and UUID.match(param) and param in constants.values():
                    table = target[1] if target else "?"
                    fixed[table] = fixed.get(table, 0) + 1
    for table, count in fixed.items():
        notes.append(
            f"{count} UUID(s) written to {table} are constants in pgbench (not traced to a "
            "request input or an earlier read's last row; e.g. a page's case ids)"
        )
    lines = [f"-- {name}: generated by bench/capture.py from the service's captured SQL", *header]
    lines += pre
    for index, body in enumerate(bodies):
        if starts.get(index, -1) >= 0:
            lines.append("\\startpipeline")
        lines.append(f"{body} \\aset s{index}_" if index in aset else f"{body};")
        if index in ends:
            lines.append("\\endpipeline")
    return Script(
        name=name,
        text="\n".join(lines) + "\n",
        defines={**(defines or {}), **constants},
        statements=len(statements),
        round_trips=round_trips(statements) + harness,
        harness_statements=harness,
        notes=notes,
    )


def describe(statements: Sequence[Statement], width: int = 110) -> list[str]:
    """One line per statement (a pipelined executemany as one line), for the report."""
    runs = dict(pipelines(statements))
    out = []
    index = 0
    while index < len(statements):
        text = statements[index].signature()
        text = text if len(text) <= width else text[: width - 1] + "…"
        last = runs.get(index, index)
        if last > index:
            text += f"  -- × {last - index + 1}, one pipeline"
        out.append(text)
        index = last + 1
    return out


def same_shape(a: Sequence[Statement], b: Sequence[Statement]) -> bool:
    return [s.signature() for s in a] == [s.signature() for s in b]


def as_json(statements: Sequence[Statement]) -> list[dict[str, Any]]:
    return [{"sql": s.signature(), "params": s.params} for s in statements]
