"""The one table ``make bench`` prints, the targets beside it, and its markdown twin."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: The issue's targets, as (operation key, concurrency) → a check of one row.
RSS_LIMIT_MB = 200.0


@dataclass
class Row:
    key: str
    label: str
    conns: int
    statements: int | None
    round_trips: int | None
    pgbench_tps: float | None
    pgbench_p99_ms: float | None
    service_rps: float | None
    p50_ms: float | None
    p99_ms: float | None
    non_2xx: int = 0
    target: str = ""
    verdict: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if not self.pgbench_tps or self.service_rps is None:
            return None
        return self.service_rps / self.pgbench_tps


def judge(rows: list[Row]) -> None:
    """Write each target and PASS/MISS beside the row it is about."""
    plain = {row.conns: row for row in rows if row.key == "status_update"}
    for row in rows:
        if row.key == "status_update_webhook" and row.conns in plain:
            without = plain[row.conns].service_rps
            row.target = "≥ 0.9 × without webhook"
            ok = without is not None and (row.service_rps or 0) >= 0.9 * without
            row.verdict = "PASS" if ok else "MISS"
            if without:
                row.note = f"{(row.service_rps or 0) / without:.2f} × without"
        elif row.key == "status_update" and row.conns == 32:
            row.target = "≥ 50 % of pgbench, p99 < 50 ms"
            ok = (row.ratio or 0) >= 0.5 and row.p99_ms is not None and row.p99_ms < 50
            row.verdict = "PASS" if ok else "MISS"
        elif row.key == "list_page" and row.conns == 32:
            row.target = "≥ 40 % of pgbench"
            row.verdict = "PASS" if (row.ratio or 0) >= 0.4 else "MISS"
        elif row.key.partition("@")[2] in ("1M", "10M") and row.conns == 1:  # the reports
            row.target = "p50 < 20 ms"
            row.verdict = "PASS" if row.p50_ms is not None and row.p50_ms < 20 else "MISS"
        elif (row.key.startswith("search_") or row.key == "possible_duplicates") and (
            row.conns == 1
        ):
            row.target = "p50 < 30 ms"
            row.verdict = "PASS" if row.p50_ms is not None and row.p50_ms < 30 else "MISS"
        if row.non_2xx and row.verdict:
            row.verdict = "MISS"
            row.note = (row.note + " non-2xx answers").strip()


def _num(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


HEADERS = (
    "operation",
    "conns",
    "stmts (trips)",
    "pgbench tps",
    "pgbench p99 ms",
    "service req/s",
    "ratio",
    "p50 ms",
    "p99 ms",
    "non-2xx",
    "target",
    "",
)


def cells(row: Row) -> list[str]:
    return [
        row.label,
        str(row.conns),
        "n/a" if row.statements is None else f"{row.statements} ({row.round_trips})",
        _num(row.pgbench_tps),
        _num(row.pgbench_p99_ms),
        _num(row.service_rps),
        _num(row.ratio, 2),
        _num(row.p50_ms),
        _num(row.p99_ms),
        str(row.non_2xx),
        row.target,
        row.verdict + (f" ({row.note})" if row.note else ""),
    ]


@dataclass
class Extra:
    """The lines under the table: memory, demo load time, what the run was."""

    rss: list[dict[str, Any]] = field(default_factory=list)
    demo_load: str = "n/a"
    context: list[str] = field(default_factory=list)
    captured: dict[str, list[str]] = field(default_factory=dict)
    #: per operation: pgbench -r's average ms per statement at the first concurrency
    statement_ms: dict[str, list[tuple[float, str]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: the workers' CPU per request (ms) by row key and concurrency
    cpu_ms: dict[tuple[str, int], float] = field(default_factory=dict)

    def rss_verdict(self) -> str:
        if not self.rss:
            return "n/a"
        peak = max(w.get("VmHWM", w.get("VmRSS", 0)) for w in self.rss) / 1024
        return "PASS" if peak < RSS_LIMIT_MB else "MISS"


def _rss_line(extra: Extra) -> str:
    if not extra.rss:
        return "RSS per worker: n/a"
    parts = [
        f"pid {w['pid']}: {w.get('VmRSS', 0) / 1024:.0f} MB now, "
        f"{w.get('VmHWM', 0) / 1024:.0f} MB peak"
        for w in extra.rss
    ]
    return (
        f"RSS per worker: {'; '.join(parts)} — target < {RSS_LIMIT_MB:.0f} MB per worker: "
        f"{extra.rss_verdict()}"
    )


def text_table(rows: list[Row], extra: Extra) -> str:
    table = [list(HEADERS), *[cells(r) for r in rows]]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADERS))]
    right = {1, 2, 3, 4, 5, 6, 7, 8, 9}
    out = []
    for n, line in enumerate(table):
        out.append(
            "  ".join(
                cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
                for i, cell in enumerate(line)
            ).rstrip()
        )
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    out.append("")
    out.append(_rss_line(extra))
    out.append(f"demo load (pta demo load, fresh SQLite): {extra.demo_load}")
    out += extra.notes
    out += extra.context
    return "\n".join(out) + "\n"


def markdown(rows: list[Row], extra: Extra) -> str:
    out = ["| " + " | ".join(h or "result" for h in HEADERS) + " |"]
    out.append(
        "|" + "|".join("---" if i in (0, 10, 11) else "---:" for i in range(len(HEADERS))) + "|"
    )
    for row in rows:
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells(row)) + " |")
    out.append("")
    out.append(_rss_line(extra) + "  ")
    out.append(f"Demo load (`pta demo load`, fresh SQLite): {extra.demo_load}  ")
    out += [line + "  " for line in extra.notes + extra.context]
    if extra.captured:
        out.append("")
        out.append("<details><summary>SQL the service issued per request (captured)</summary>")
        out.append("")
        for key, lines in extra.captured.items():
            out.append(f"**{key}** ({len(lines)} statements)")
            out.append("")
            out.append("```sql")
            out += lines
            out.append("```")
            out.append("")
        out.append("</details>")
    if extra.statement_ms:
        out.append("")
        out.append(
            "<details><summary>Where PostgreSQL spends the time (pgbench -r: average ms "
            "per statement, lowest concurrency)</summary>"
        )
        out.append("")
        for key, timings in extra.statement_ms.items():
            out.append(f"**{key}**")
            out.append("")
            out.append("```")
            out += _collapsed(timings)
            out.append("```")
            out.append("")
        out.append("</details>")
    return "\n".join(out) + "\n"


def _collapsed(lines: list[tuple[float, str]]) -> list[str]:
    """pgbench -r lines, a run of the same statement (a pipeline) as one line."""
    out: list[str] = []
    previous, count, total = "", 0, 0.0
    for ms, text in [*lines, (0.0, "")]:
        if text[:60] == previous[:60] and text:
            count, total = count + 1, total + ms
            continue
        if previous:
            suffix = f"  (× {count})" if count > 1 else ""
            out.append(f"{total:8.3f}  {previous[:100]}{suffix}")
        previous, count, total = text, 1, ms
    return out


def as_json(rows: list[Row], extra: Extra) -> dict[str, Any]:
    return {
        "rows": [{**asdict(r), "ratio": r.ratio} for r in rows],
        "rss": extra.rss,
        "rss_verdict": extra.rss_verdict(),
        "demo_load": extra.demo_load,
        "context": extra.context,
        "notes": extra.notes,
        "captured": extra.captured,
        "statement_ms": extra.statement_ms,
    }
