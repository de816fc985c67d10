"""requests for information and departure requirements

A resettlement state may ask a question before deciding (the submission status
``information_requested``; the questions and UNHCR's answers in ``information_requests``), and
an accepted submission starts a pre-departure checklist (``departure_requirements``, one row per
item of ``PTA_DEPARTURE_REQUIREMENTS``). Existing rows are kept as they are: submissions
accepted before this revision have no checklist (their departure needs none), exactly as if
the setting had been empty when they were accepted.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = ("pending", "on_hold", "accepted", "denied", "withdrawn")
NEW_STATUSES = (*OLD_STATUSES, "information_requested")
ITEMS = (
    "medical_clearance",
    "security_clearance",
    "exit_permit",
    "travel_document",
    "cultural_orientation",
    "travel_booked",
)
ROLES = ("caseworker", "supervisor", "resettlement_officer", "transit_officer", "manager", "admin")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _submission_statuses(values: Sequence[str], length: int) -> None:
    """The statuses a submission may have ("information_requested" is 21 characters long)."""
    with op.batch_alter_table("submissions") as batch:
        batch.drop_constraint(op.f("ck_submissions_status"), type_="check")
        batch.alter_column("status", type_=sa.String(length=length), existing_nullable=False)
        batch.create_check_constraint("status", _in("status", values))


def upgrade() -> None:
    _submission_statuses(NEW_STATUSES, 32)
    op.create_table(
        "information_requests",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("submission_id", sa.Uuid(), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("asked_by", sa.Uuid(), nullable=False),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.Uuid(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_information_requests_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_information_requests_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["asked_by"], ["users.id"], name=op.f("fk_information_requests_asked_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["answered_by"], ["users.id"], name=op.f("fk_information_requests_answered_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_information_requests")),
    )
    op.create_index("ix_information_requests_case_id", "information_requests", ["case_id"])
    op.create_table(
        "departure_requirements",
        sa.Column("submission_id", sa.Uuid(), nullable=False),
        sa.Column("item", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("note_role", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.CheckConstraint(_in("item", ITEMS), name=op.f("ck_departure_requirements_item")),
        sa.CheckConstraint(
            _in("status", ("pending", "done", "waived")),
            name=op.f("ck_departure_requirements_status"),
        ),
        sa.CheckConstraint(
            _in("note_role", ROLES), name=op.f("ck_departure_requirements_note_role")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_departure_requirements_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_departure_requirements_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_departure_requirements_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("submission_id", "item", name=op.f("pk_departure_requirements")),
    )
    op.create_index("ix_departure_requirements_case_id", "departure_requirements", ["case_id"])
    pending = sa.text("status = 'pending' AND due_on IS NOT NULL")
    op.create_index(
        "ix_departure_requirements_pending_due_on",
        "departure_requirements",
        ["due_on", "case_id"],
        sqlite_where=pending,
        postgresql_where=pending,
    )


def downgrade() -> None:
    op.drop_index("ix_departure_requirements_pending_due_on", table_name="departure_requirements")
    op.drop_index("ix_departure_requirements_case_id", table_name="departure_requirements")
    op.drop_table("departure_requirements")
    op.drop_index("ix_information_requests_case_id", table_name="information_requests")
    op.drop_table("information_requests")
    # A submission waiting for information goes back to pending, the nearest older status.
    op.execute("UPDATE submissions SET status = 'pending' WHERE status = 'information_requested'")
    _submission_statuses(OLD_STATUSES, 16)
