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
from app.schemas.users import UserCreate
from app.services import users
from app.vocabulary import Role


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user_commands = commands.add_parser("users", help="manage users").add_subparsers(
        dest="users", required=True
    )
    create = user_commands.add_parser("create", help="create a user; prints its id last")
    create.add_argument("username")
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument("--country", help="ISO 3166-1 alpha-3, for officers")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    create.set_defaults(handler=cmd_users_create)


def cmd_users_create(args: argparse.Namespace, settings: Settings) -> int:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password (at least 12 characters): ")
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
