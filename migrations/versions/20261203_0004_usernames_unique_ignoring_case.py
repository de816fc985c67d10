"""usernames are unique ignoring case

"Ana" and "ana" would be two accounts that a reader of the access log, or an admin granting a
role, takes for one person. A unique index on ``lower(username)`` makes them one name.

Existing data is kept: when users already differ only by case, the oldest (by ``created_at``,
then id) keeps its name, and each later one is renamed ``<username>-<first 8 hex digits of
its id>`` (cut to fit 64 characters) — nobody is deleted or deactivated, ids, roles, password
hashes and history stay, and the admin finds the new name in ``GET /api/v1/users``. The
renamed users sign in with that name from then on. Downgrading drops the index and keeps the
names.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_users_username_lower"
MAX_LENGTH = 64


def renamed(username: str, user_id: str) -> str:
    suffix = "-" + str(user_id).replace("-", "")[:8]
    return username[: MAX_LENGTH - len(suffix)] + suffix


def upgrade() -> None:
    bind = op.get_bind()
    users = sa.table("users", sa.column("id"), sa.column("username"), sa.column("created_at"))
    rows = bind.execute(
        sa.select(users.c.id, users.c.username).order_by(users.c.created_at, users.c.id)
    ).all()
    seen: set[str] = set()
    for user_id, username in rows:
        if username.lower() not in seen:
            seen.add(username.lower())
            continue
        new = renamed(username, user_id)
        seen.add(new.lower())
        bind.execute(sa.update(users).where(users.c.id == user_id).values(username=new))
    op.create_index(NAME, "users", [sa.text("lower(username)")], unique=True)


def downgrade() -> None:
    op.drop_index(NAME, table_name="users")
