"""``pta users``: manage users from the command line."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.cli.common import log, print_validation_errors, run_in_transaction
from app.config import Settings
from app.db import SqlaDb
from app.schemas.users import UserCreate, UserUpdate
from app.services import users
from app.vocabulary import Role


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user_commands = commands.add_parser("users", help="manage users").add_subparsers(
        dest="users", required=True
    )
    create = user_commands.add_parser("create", help="create a user; prints its id last")
    create.add_argument("username")
    create.add_argument(
        "--role", required=True, choices=[role.value for role in Role], help="the user's role"
    )
    create.add_argument("--country", help="ISO 3166-1 alpha-3, for officers")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    create.set_defaults(handler=cmd_users_create, needs_schema=True)
    listing = user_commands.add_parser("list", help="every user: username, role, country, …")
    listing.set_defaults(handler=cmd_users_list, needs_schema=True)
    reset = user_commands.add_parser(
        "set-password", help="give a user a new password (its tokens stop working at once)"
    )
    reset.add_argument("username")
    reset.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    reset.set_defaults(handler=cmd_users_set_password, needs_schema=True)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass("Password (at least 12 characters): ")


def cmd_users_create(args: argparse.Namespace, settings: Settings) -> int:
    password = _password(args)
    try:
        data = UserCreate(
            username=args.username, password=password, role=args.role, country=args.country
        )
    except ValidationError as error:
        return print_validation_errors(error)

    async def create(conn: AsyncConnection) -> dict[str, Any]:
        return await users.create_user(SqlaDb(conn), users.OPERATOR, data, datetime.now(UTC))

    user = run_in_transaction(settings, create)
    log.info("user created", extra={"user_id": str(user["id"]), "role": user["role"]})
    print(user["id"])
    return 0


def cmd_users_list(_args: argparse.Namespace, settings: Settings) -> int:
    async def every_user(conn: AsyncConnection) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = await users.list_users(SqlaDb(conn), users.OPERATOR, limit=200, cursor=cursor)
            found += page.items
            if page.next_cursor is None:
                return found
            cursor = page.next_cursor

    header = ("username", "role", "country", "active", "id")
    rows = [
        (
            u["username"],
            str(u["role"]),
            u["country"] or "-",
            "yes" if u["active"] else "no",
            str(u["id"]),
        )
        for u in run_in_transaction(settings, every_user)
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    return 0


def cmd_users_set_password(args: argparse.Namespace, settings: Settings) -> int:
    try:
        data = UserUpdate(password=_password(args))
    except ValidationError as error:
        return print_validation_errors(error)

    async def set_password(conn: AsyncConnection) -> dict[str, Any]:
        db = SqlaDb(conn)
        user = await users.user_by_name(db, users.OPERATOR, args.username)
        return await users.update_user(db, users.OPERATOR, user["id"], data, datetime.now(UTC))

    user = run_in_transaction(settings, set_password)
    log.info("password changed", extra={"user_id": str(user["id"])})
    print(f"New password set for {args.username}; its tokens no longer work.")
    return 0
