"""the transit officer's scope index covers the stay's status

A transit officer sees the cases with a stay in its country that was not refused. With the
status in ``ix_transit_stays_transit_country_case_id`` PostgreSQL checks that scope with an
index-only scan; without it, one filter combination (resettlement country, stage, status and
updated_since together) fell back to a sequential scan of transit_stays at 1 M cases
(``bench/explain.py``). SQLite has no INCLUDE: there the index stays as it was.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 10:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_transit_stays_transit_country_case_id"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(NAME, table_name="transit_stays")
    op.create_index(
        NAME, "transit_stays", ["transit_country", "case_id"], postgresql_include=["status"]
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(NAME, table_name="transit_stays")
    op.create_index(NAME, "transit_stays", ["transit_country", "case_id"])
