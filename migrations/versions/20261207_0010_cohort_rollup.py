"""cohort funnel from the rollup

``funnel_rollup`` (and ``funnel_deltas``) get the grain ``c``: cases and people by
identification month, the month each stage was reached (``reached_month``) and the days it took
(``days_to_stage``), so that a cohort of whole months is a sum whose size does not grow with the
number of cases; and rows for any origin (``*``), with the origin before the day in the key, so
that one origin or all of them is one range of it. Both tables are derived from the cases, their members, submissions and transit
stays (app/services/funnel_rollup.py): they are made anew with the new key and filled from
those rows here, every count as before (pending deltas are part of what the rebuild counts).
No case, member, submission or stay is read other than to count it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: stage -> the case's and member's column holding the day it was reached
MILESTONES = {
    "identified": "identified_at",
    "submitted": "first_submitted_at",
    "in_transit": "transit_entered_at",
    "resettled": "resettled_at",
}
OLD_KEY = ["resettlement_country", "transit_country", "grain", "day", "stage", "origin_country"]
NEW_KEY = [
    "resettlement_country",
    "transit_country",
    "grain",
    "origin_country",
    "day",
    "stage",
    "reached_month",
    "days_to_stage",
]


def _key_columns(new: bool) -> list[sa.Column[object]]:
    columns = {
        "resettlement_country": sa.String(length=3),
        "transit_country": sa.String(length=3),
        "grain": sa.String(length=1),
        "day": sa.Date(),
        "stage": sa.String(length=16),
        "origin_country": sa.String(length=3),
        "reached_month": sa.Date(),
        "days_to_stage": sa.Integer(),
    }
    return [
        *(
            sa.Column(name, columns[name], autoincrement=False, nullable=False)
            for name in (NEW_KEY if new else OLD_KEY)
        ),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
    ]


def _create(new: bool) -> None:
    grains = "'d', 'm', 'c'" if new else "'d', 'm'"
    op.create_table(
        "funnel_deltas",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        *_key_columns(new),
        sa.CheckConstraint(f"grain IN ({grains})", name=op.f("ck_funnel_deltas_grain")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funnel_deltas")),
    )
    op.create_index(
        "ix_funnel_deltas_key",
        "funnel_deltas",
        ["resettlement_country", "transit_country", "grain", "day"],
        unique=False,
    )
    op.create_table(
        "funnel_rollup",
        *_key_columns(new),
        sa.CheckConstraint(f"grain IN ({grains})", name=op.f("ck_funnel_rollup_grain")),
        sa.PrimaryKeyConstraint(
            *(NEW_KEY if new else OLD_KEY),
            name=op.f("pk_funnel_rollup"),
            # PostgreSQL: the counts in the key's index, for index-only scans of a range
            **({"postgresql_include": ["cases", "people"]} if new else {}),
        ),
    )


def _drop() -> None:
    op.drop_index("ix_funnel_deltas_key", table_name="funnel_deltas")
    op.drop_table("funnel_deltas")
    op.drop_table("funnel_rollup")


REBUILD = """
INSERT INTO funnel_rollup ({columns}, cases, people)
SELECT d.country, t.country, '{grain}', o.country, {day}, '{stage}', {reached}, {days},
       sum(u.cases), sum(u.people)
FROM (SELECT id AS case_id, {column} AS day, identified_at AS identified, 1 AS cases,
             0 AS people
      FROM cases WHERE {column} IS NOT NULL
      UNION ALL
      SELECT case_id, {column}, identified_at, 0, 1 FROM members WHERE {column} IS NOT NULL) u
JOIN (SELECT id AS case_id, '*' AS country FROM cases
      UNION SELECT case_id, resettlement_country FROM submissions) d ON d.case_id = u.case_id
JOIN (SELECT id AS case_id, '*' AS country FROM cases
      UNION SELECT case_id, transit_country FROM transit_stays WHERE status <> 'refused') t
  ON t.case_id = u.case_id
JOIN (SELECT id AS case_id, '*' AS country FROM cases
      UNION SELECT id, origin_country FROM cases) o ON o.case_id = u.case_id
GROUP BY d.country, t.country, o.country, {day}, {reached}{split}
"""


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:  # counting a million cases takes longer than a request may
        op.execute("SET LOCAL statement_timeout = 0")
    _drop()
    _create(new=True)

    def month(column: str) -> str:
        if postgres:
            return f"date_trunc('month', {column})::date"
        return f"date({column}, 'start of month')"

    days = (
        "(u.day - u.identified)"
        if postgres
        else "CAST(julianday(u.day) - julianday(u.identified) AS INTEGER)"
    )
    for stage, column in MILESTONES.items():
        reached = month("u.day")
        # grain, day, days to stage (None: not split by delay)
        for grain, day, split in (
            ("d", "u.day", None),
            ("m", reached, None),
            ("c", month("u.identified"), days),
        ):
            op.execute(
                REBUILD.format(
                    columns=", ".join(NEW_KEY),
                    grain=grain,
                    day=day,
                    stage=stage,
                    column=column,
                    reached=reached,
                    days=split or "0",
                    split=f", {split}" if split else "",
                )
            )


COPY_BACK = """
INSERT INTO {table} ({columns}, cases, people)
SELECT {columns}, cases, people FROM {table}_0010 WHERE grain <> 'c' AND origin_country <> '*'
"""


def downgrade() -> None:
    """Back to day and month rows only: the same counts, without the cohort rows."""
    op.rename_table("funnel_rollup", "funnel_rollup_0010")
    op.rename_table("funnel_deltas", "funnel_deltas_0010")
    if op.get_bind().dialect.name == "postgresql":  # index and constraint names are global
        op.execute("ALTER INDEX ix_funnel_deltas_key RENAME TO ix_funnel_deltas_key_0010")
        for table in ("funnel_rollup", "funnel_deltas"):
            op.execute(f"ALTER TABLE {table}_0010 RENAME CONSTRAINT pk_{table} TO pk_{table}_0010")
    else:
        op.drop_index("ix_funnel_deltas_key", table_name="funnel_deltas_0010")
    _create(new=False)
    for table in ("funnel_rollup", "funnel_deltas"):
        op.execute(COPY_BACK.format(table=table, columns=", ".join(OLD_KEY)))
    op.drop_table("funnel_deltas_0010")
    op.drop_table("funnel_rollup_0010")
