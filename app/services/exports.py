"""CSV: the case export (streamed page by page, columns of the caller's view) and the funnel
in long format, each with an HXL hashtag row under its header, a file name that says what it
holds, timestamps as in JSON (UTC, ``Z``), and every cell a spreadsheet would run as a
formula neutralised (OWASP "CSV injection")."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any, get_origin

from app.db import Database
from app.schemas.case_views import case_view_for
from app.schemas.cases import CaseFilters
from app.schemas.reports import PERIODS, FunnelGroup, FunnelReport, GroupBy
from app.services import policy, users
from app.services.cases import fetch_page
from app.services.policy import Actor, Permission
from app.services.records import attach
from app.services.views import present_case

EXPORT_PAGE = 500
#: A streamed export re-checks its user at least this often (seconds).
CHECK_USER_SECONDS = 1.0
FUNNEL_HEADER = (
    "date_start",
    "date_end",
    "origin_country",
    "resettlement_country",
    "indicator",
    "households",
    "individuals",
    "basis",
    "as_of",
    "transit_country",
)
FUNNEL_HXL = (
    "#date+start",
    "#date+end",
    "#country+code+origin",
    "#country+code+dest",
    "#indicator+code",
    "#indicator+num+hh",
    "#indicator+num+ind",
    "#meta+basis",
    "#date+reported",
    "#country+code+transit",
)
#: HXL hashtags of the case export's columns; a column not named here gets ``#date+<name>``
#: (``…_at``) or ``#meta+<name>``
CASE_HXL = {
    "id": "#meta+id",
    "reference": "#meta+reference",
    "origin_country": "#country+code+origin",
    "status": "#status+code",
    "stage": "#status+stage",
    "protection_summary": "#description+protection",
    "first_submitted_at": "#date+submitted",
    "transit_entered_at": "#date+transit",
}
#: what a spreadsheet reads as the start of a formula (OWASP): such a cell gets a leading '
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _line(values: Iterable[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(_cell(v) for v in values)
    return buffer.getvalue()


def case_hxl(column: str) -> str:
    if column in CASE_HXL:
        return CASE_HXL[column]
    stem = column.removesuffix("_at")
    return f"#date+{stem}" if stem != column else f"#meta+{column}"


def attachment(filename: str) -> str:
    """A ``Content-Disposition`` for a name made of ASCII letters, digits and ``-_.:``."""
    return f'attachment; filename="{filename}"'


def export_filename(now: datetime) -> str:
    return f"pta-cases-{now.astimezone(UTC):%Y-%m-%dT%H%MZ}.csv"


def funnel_filename(report: FunnelReport) -> str:
    """Basis, period, "as of" day and filters: two different funnels never share a name."""
    parts = ["pta-funnel", report.basis, f"{report.from_}-to-{report.to}", f"as-of-{report.as_of}"]
    parts += [f"{key.split('_')[0]}-{value}" for key, value in sorted(report.filters.items())]
    if report.group_by:
        parts.append(f"by-{report.group_by}")
    return "_".join(parts) + ".csv"


def export_columns(actor: Actor) -> list[str]:
    """The case's own fields the caller's view shows (lists such as members are left out)."""
    view = case_view_for(actor.role)
    return [
        name
        for name, field in view.model_fields.items()
        if get_origin(field.annotation) is not list
    ]


async def export_cases(
    database: Database, actor: Actor, filters: CaseFilters
) -> AsyncIterator[str]:
    """Stream every case matching the filters, a page at a time (memory stays flat), in one
    read-only transaction of its own (the request's has committed when streaming starts)."""
    policy.require(actor, Permission.read_cases)
    columns = export_columns(actor)
    yield _line(columns)
    # Each line is held back until the next one is ready: when the user stops being who it
    # was, the last line goes out without its newline, so a reader sees the file is truncated.
    held = _line(case_hxl(name) for name in columns)
    checked = time.monotonic()
    async with database.transaction(read_only=True) as db:
        after = None
        while True:
            rows = await fetch_page(db, actor, filters, after, EXPORT_PAGE)
            if not rows:
                yield held
                return
            for record in await attach(db, rows):
                if time.monotonic() - checked >= CHECK_USER_SECONDS:
                    if not await users.still_the_same(database, actor):
                        yield held.removesuffix("\r\n")
                        return
                    checked = time.monotonic()
                yield held
                view = present_case(actor, record)
                held = _line(view[name] for name in columns)
            after = rows[-1]["id"]


def _period_bounds(group: GroupBy, key: str) -> tuple[date, date]:
    year = int(key[:4])
    if group is GroupBy.year:
        return date(year, 1, 1), date(year, 12, 31)
    first_month = int(key[5:]) if group is GroupBy.month else (int(key[6:]) - 1) * 3 + 1
    last_month = first_month if group is GroupBy.month else first_month + 2
    end = date(year + (last_month == 12), last_month % 12 + 1, 1)
    return date(year, first_month, 1), date.fromordinal(end.toordinal() - 1)


def funnel_csv(report: FunnelReport) -> str:
    """Long format: one row per (group, stage), with an HXL hashtag row under the header."""
    end = report.to if report.basis == "cohort" else min(report.to, report.as_of)
    origin = report.filters.get("origin_country")
    destination = report.filters.get("resettlement_country")
    transit = report.filters.get("transit_country")
    out: list[Sequence[Any]] = [FUNNEL_HEADER, FUNNEL_HXL]
    groups: list[FunnelGroup | None] = list(report.groups) if report.group_by else [None]
    for group in groups:
        start, stop, group_origin, group_destination = report.from_, end, origin, destination
        if group is not None and report.group_by in PERIODS and group.key is not None:
            first, last = _period_bounds(report.group_by, group.key)
            start, stop = max(first, report.from_), min(last, end)
        elif group is not None and report.group_by is GroupBy.origin_country:
            group_origin = group.key
        elif group is not None and report.group_by is GroupBy.resettlement_country:
            group_destination = group.key
        for stage in group.stages if group is not None else report.stages:
            out.append(
                (
                    start,
                    stop,
                    group_origin,
                    group_destination,
                    stage.stage,
                    stage.cases,
                    stage.people,
                    report.basis,
                    report.as_of,
                    transit,
                )
            )
    return "".join(_line(row) for row in out)


def funnel_table(report: FunnelReport) -> str:
    """The funnel as a plain-text table, for the command line."""
    cohort = report.basis == "cohort"
    header = ["group", "stage", "cases", "people", *(["median days"] if cohort else [])]
    lines: list[list[str]] = []
    for key, stages in [
        ("total", report.stages),
        *((g.key or "-", g.stages) for g in report.groups),
    ]:
        for stage in stages:
            median = "" if stage.median_days is None else f"{stage.median_days:g}"
            row = [str(key), stage.stage, f"{stage.cases:,}", f"{stage.people:,}"]
            lines.append(row + ([median] if cohort else []))
    widths = [max(len(cell) for cell in column) for column in zip(header, *lines, strict=False)]
    left = {0, 1}

    def fmt(row: list[str]) -> str:
        return "  ".join(
            cell.ljust(width) if i in left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        )

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([report.definition, "", fmt(header), rule, *(fmt(row) for row in lines)])
