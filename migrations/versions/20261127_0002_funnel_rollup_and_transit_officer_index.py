"""funnel rollup (by day and by month) and transit officer index

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 07:10:44.616737
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "funnel_deltas",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("resettlement_country", sa.String(length=3), nullable=False),
        sa.Column("transit_country", sa.String(length=3), nullable=False),
        sa.Column("grain", sa.String(length=1), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("origin_country", sa.String(length=3), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.CheckConstraint("grain IN ('d', 'm')", name=op.f("ck_funnel_deltas_grain")),
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
        sa.Column("resettlement_country", sa.String(length=3), nullable=False),
        sa.Column("transit_country", sa.String(length=3), nullable=False),
        sa.Column("grain", sa.String(length=1), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("origin_country", sa.String(length=3), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.CheckConstraint("grain IN ('d', 'm')", name=op.f("ck_funnel_rollup_grain")),
        sa.PrimaryKeyConstraint(
            "resettlement_country",
            "transit_country",
            "grain",
            "day",
            "stage",
            "origin_country",
            name=op.f("pk_funnel_rollup"),
        ),
    )
    op.create_index(
        "ix_transit_stays_transit_country_case_id",
        "transit_stays",
        ["transit_country", "case_id"],
        unique=False,
    )
    # Count the cases that already exist (the service keeps the rollup current from now on).
    postgres = op.get_bind().dialect.name == "postgresql"
    for stage, column in MILESTONES.items():
        month = (
            f"date_trunc('month', c.{column})::date"
            if postgres
            else f"date(c.{column}, 'start of month')"
        )
        for grain, day in (("d", f"c.{column}"), ("m", month)):
            op.execute(REBUILD.format(stage=stage, column=column, grain=grain, day=day))


MILESTONES = {
    "identified": "identified_at",
    "submitted": "first_submitted_at",
    "in_transit": "transit_entered_at",
    "resettled": "resettled_at",
}
REBUILD = """
INSERT INTO funnel_rollup
    (resettlement_country, transit_country, grain, day, stage, origin_country, cases, people)
SELECT d.country, t.country, '{grain}', {day}, '{stage}', c.origin_country, count(*),
       sum(c.member_count)
FROM cases c
JOIN (SELECT id AS case_id, '*' AS country FROM cases
      UNION SELECT case_id, resettlement_country FROM submissions) d ON d.case_id = c.id
JOIN (SELECT id AS case_id, '*' AS country FROM cases
      UNION SELECT case_id, transit_country FROM transit_stays WHERE status <> 'refused') t
  ON t.case_id = c.id
WHERE c.{column} IS NOT NULL
GROUP BY d.country, t.country, {day}, c.origin_country
"""


def downgrade() -> None:
    op.drop_index("ix_transit_stays_transit_country_case_id", table_name="transit_stays")
    op.drop_table("funnel_rollup")
    op.drop_index("ix_funnel_deltas_key", table_name="funnel_deltas")
    op.drop_table("funnel_deltas")
