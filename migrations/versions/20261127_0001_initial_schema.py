"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 06:56:14.083956
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reference_counters",
        sa.Column("origin_country", sa.String(length=3), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("origin_country", "year", name=op.f("pk_reference_counters")),
    )
    op.create_table(
        "sign_in_failures",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failures")),
    )
    op.create_index("ix_sign_in_failures_at", "sign_in_failures", ["at"], unique=False)
    op.create_index(
        "ix_sign_in_failures_username_client_at",
        "sign_in_failures",
        ["username", "client", "at"],
        unique=False,
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("country", sa.String(length=3), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("token_generation", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(role IN ('resettlement_officer', 'transit_officer')) = (country IS NOT NULL)",
            name=op.f("ck_users_country_for_officers"),
        ),
        sa.CheckConstraint(
            "role IN ('caseworker', 'supervisor', 'resettlement_officer', 'transit_officer', 'manager', 'admin')",
            name=op.f("ck_users_role"),
        ),
        sa.CheckConstraint("length(country) = 3", name=op.f("ck_users_country_code")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "access_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=True),
        sa.CheckConstraint(
            "action IN ('view', 'list', 'events', 'export', 'report')",
            name=op.f("ck_access_log_action"),
        ),
        sa.CheckConstraint(
            "role IN ('caseworker', 'supervisor', 'resettlement_officer', 'transit_officer', 'manager', 'admin')",
            name=op.f("ck_access_log_role"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_access_log_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
    )
    op.create_index("ix_access_log_at", "access_log", ["at"], unique=False)
    op.create_index("ix_access_log_user_id_id", "access_log", ["user_id", "id"], unique=False)
    op.create_table(
        "cases",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("origin_country", sa.String(length=3), nullable=False),
        sa.Column("pathway", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_before_close", sa.String(length=16), nullable=True),
        sa.Column("processing_priority", sa.String(length=16), nullable=False),
        sa.Column("referral_source", sa.Text(), nullable=True),
        sa.Column("protection_summary", sa.Text(), nullable=True),
        sa.Column("member_count", sa.Integer(), nullable=False),
        sa.Column("identified_at", sa.Date(), nullable=False),
        sa.Column("first_submitted_at", sa.Date(), nullable=True),
        sa.Column("transit_entered_at", sa.Date(), nullable=True),
        sa.Column("departed_at", sa.Date(), nullable=True),
        sa.Column("resettled_at", sa.Date(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closure_reason", sa.String(length=32), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("drafted_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "closure_reason IN ('not_recommended', 'withdrawn_by_applicant', 'denied_no_resubmission', 'lost_contact', 'deceased', 'onward_movement', 'no_longer_at_risk', 'transit_expired', 'other')",
            name=op.f("ck_cases_closure_reason"),
        ),
        sa.CheckConstraint("pathway IN ('transit', 'in_country')", name=op.f("ck_cases_pathway")),
        sa.CheckConstraint(
            "processing_priority IN ('emergency', 'urgent', 'normal')",
            name=op.f("ck_cases_processing_priority"),
        ),
        sa.CheckConstraint(
            "status IN ('identified', 'assessment', 'pending_review', 'submitted', 'in_transit', 'departed', 'resettled', 'closed')",
            name=op.f("ck_cases_status"),
        ),
        sa.CheckConstraint(
            "status_before_close IN ('identified', 'assessment', 'pending_review', 'submitted', 'in_transit', 'departed', 'resettled', 'closed')",
            name=op.f("ck_cases_status_before_close"),
        ),
        sa.CheckConstraint("length(origin_country) = 3", name=op.f("ck_cases_origin_country_code")),
        sa.CheckConstraint("member_count BETWEEN 1 AND 30", name=op.f("ck_cases_member_count")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_cases_version")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_cases_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["drafted_by"], ["users.id"], name=op.f("fk_cases_drafted_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("reference", name=op.f("uq_cases_reference")),
    )
    op.create_index("ix_cases_first_submitted_at", "cases", ["first_submitted_at"], unique=False)
    op.create_index("ix_cases_identified_at", "cases", ["identified_at"], unique=False)
    op.create_index("ix_cases_origin_country_id", "cases", ["origin_country", "id"], unique=False)
    op.create_index("ix_cases_resettled_at", "cases", ["resettled_at"], unique=False)
    op.create_index("ix_cases_status_id", "cases", ["status", "id"], unique=False)
    op.create_index("ix_cases_transit_entered_at", "cases", ["transit_entered_at"], unique=False)
    op.create_index("ix_cases_updated_at_id", "cases", ["updated_at", "id"], unique=False)
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_headers", sa.JSON(), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_idempotency_keys_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "user_id", "method", "path", "key", name=op.f("pk_idempotency_keys")
        ),
    )
    op.create_index(
        "ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"], unique=False
    )
    op.create_table(
        "access_log_cases",
        sa.Column(
            "access_log_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["access_log_id"],
            ["access_log.id"],
            name=op.f("fk_access_log_cases_access_log_id_access_log"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("access_log_id", "case_id", name=op.f("pk_access_log_cases")),
    )
    op.create_index(
        "ix_access_log_cases_case_id",
        "access_log_cases",
        ["case_id", "access_log_id"],
        unique=False,
    )
    op.create_table(
        "case_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("resettlement_country", sa.String(length=3), nullable=True),
        sa.Column("transit_country", sa.String(length=3), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "from_status IN ('identified', 'assessment', 'pending_review', 'submitted', 'in_transit', 'departed', 'resettled', 'closed')",
            name=op.f("ck_case_events_from_status"),
        ),
        sa.CheckConstraint(
            "role IN ('caseworker', 'supervisor', 'resettlement_officer', 'transit_officer', 'manager', 'admin')",
            name=op.f("ck_case_events_role"),
        ),
        sa.CheckConstraint(
            "to_status IN ('identified', 'assessment', 'pending_review', 'submitted', 'in_transit', 'departed', 'resettled', 'closed')",
            name=op.f("ck_case_events_to_status"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_events_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_case_events_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    op.create_index("ix_case_events_case_id_id", "case_events", ["case_id", "id"], unique=False)
    op.create_table(
        "members",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_principal", sa.Boolean(), nullable=False),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("sex", sa.String(length=8), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("dob_estimated", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("nationality", sa.String(length=3), nullable=False),
        sa.Column("relationship", sa.String(length=50), nullable=False),
        sa.Column("document_number", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "sex IN ('female', 'male', 'other', 'unknown')", name=op.f("ck_members_sex")
        ),
        sa.CheckConstraint("length(nationality) = 3", name=op.f("ck_members_nationality_code")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_members_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("case_id", "position", name=op.f("pk_members")),
    )
    op.create_index(
        "uq_members_one_principal",
        "members",
        ["case_id"],
        unique=True,
        sqlite_where=sa.text("is_principal"),
        postgresql_where=sa.text("is_principal"),
    )
    op.create_table(
        "submissions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("resettlement_country", sa.String(length=3), nullable=False),
        sa.Column("submission_priority", sa.String(length=16), nullable=False),
        sa.Column("primary_category", sa.String(length=48), nullable=False),
        sa.Column("secondary_category", sa.String(length=48), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_by", sa.Uuid(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawal_reason", sa.String(length=32), nullable=True),
        sa.CheckConstraint(
            "primary_category IN ('legal_physical_protection_needs', 'survivors_violence_torture', 'medical_needs', 'women_girls_at_risk', 'family_reunification', 'children_adolescents_at_risk', 'lack_of_alternative_durable_solutions')",
            name=op.f("ck_submissions_primary_category"),
        ),
        sa.CheckConstraint(
            "secondary_category IN ('legal_physical_protection_needs', 'survivors_violence_torture', 'medical_needs', 'women_girls_at_risk', 'family_reunification', 'children_adolescents_at_risk', 'lack_of_alternative_durable_solutions')",
            name=op.f("ck_submissions_secondary_category"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'on_hold', 'accepted', 'denied', 'withdrawn')",
            name=op.f("ck_submissions_status"),
        ),
        sa.CheckConstraint(
            "submission_priority IN ('emergency', 'urgent', 'normal')",
            name=op.f("ck_submissions_submission_priority"),
        ),
        sa.CheckConstraint(
            "withdrawal_reason IN ('error', 'applicant_request', 'exceptional')",
            name=op.f("ck_submissions_withdrawal_reason"),
        ),
        sa.CheckConstraint(
            "length(resettlement_country) = 3",
            name=op.f("ck_submissions_resettlement_country_code"),
        ),
        sa.CheckConstraint("sequence >= 1", name=op.f("ck_submissions_sequence")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_submissions_case_id_cases"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_submissions_decided_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"], ["users.id"], name=op.f("fk_submissions_submitted_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
        sa.UniqueConstraint("case_id", "sequence", name=op.f("uq_submissions_case_id_sequence")),
    )
    op.create_index(
        "ix_submissions_resettlement_country_case_id",
        "submissions",
        ["resettlement_country", "case_id"],
        unique=False,
    )
    op.create_table(
        "transit_stays",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("transit_country", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=False),
        sa.Column("authorised_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("authorisation_note", sa.Text(), nullable=True),
        sa.Column("refused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refusal_reason", sa.Text(), nullable=True),
        sa.Column("entered_at", sa.Date(), nullable=True),
        sa.Column("authorised_until", sa.Date(), nullable=True),
        sa.Column("exited_at", sa.Date(), nullable=True),
        sa.Column("exit_reason", sa.String(length=32), nullable=True),
        sa.CheckConstraint(
            "exit_reason IN ('departed_to_resettlement', 'case_closed')",
            name=op.f("ck_transit_stays_exit_reason"),
        ),
        sa.CheckConstraint(
            "status IN ('requested', 'authorised', 'refused', 'in_transit', 'exited')",
            name=op.f("ck_transit_stays_status"),
        ),
        sa.CheckConstraint(
            "authorised_until >= entered_at", name=op.f("ck_transit_stays_authorised_after_entry")
        ),
        sa.CheckConstraint(
            "length(transit_country) = 3", name=op.f("ck_transit_stays_transit_country_code")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_transit_stays_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_transit_stays_requested_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transit_stays")),
    )
    op.create_index("ix_transit_stays_case_id", "transit_stays", ["case_id"], unique=False)
    op.create_index(
        "ix_transit_stays_transit_country_status",
        "transit_stays",
        ["transit_country", "status"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_transit_stays_transit_country_status", table_name="transit_stays")
    op.drop_index("ix_transit_stays_case_id", table_name="transit_stays")
    op.drop_table("transit_stays")
    op.drop_index("ix_submissions_resettlement_country_case_id", table_name="submissions")
    op.drop_table("submissions")
    op.drop_index(
        "uq_members_one_principal",
        table_name="members",
        sqlite_where=sa.text("is_principal"),
        postgresql_where=sa.text("is_principal"),
    )
    op.drop_table("members")
    op.drop_index("ix_case_events_case_id_id", table_name="case_events")
    op.drop_table("case_events")
    op.drop_index("ix_access_log_cases_case_id", table_name="access_log_cases")
    op.drop_table("access_log_cases")
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
    op.drop_index("ix_cases_updated_at_id", table_name="cases")
    op.drop_index("ix_cases_transit_entered_at", table_name="cases")
    op.drop_index("ix_cases_status_id", table_name="cases")
    op.drop_index("ix_cases_resettled_at", table_name="cases")
    op.drop_index("ix_cases_origin_country_id", table_name="cases")
    op.drop_index("ix_cases_identified_at", table_name="cases")
    op.drop_index("ix_cases_first_submitted_at", table_name="cases")
    op.drop_table("cases")
    op.drop_index("ix_access_log_user_id_id", table_name="access_log")
    op.drop_index("ix_access_log_at", table_name="access_log")
    op.drop_table("access_log")
    op.drop_table("users")
    op.drop_index("ix_sign_in_failures_username_client_at", table_name="sign_in_failures")
    op.drop_index("ix_sign_in_failures_at", table_name="sign_in_failures")
    op.drop_table("sign_in_failures")
    op.drop_table("reference_counters")
