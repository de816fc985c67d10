"""``pta webhooks deliver [--once]``: send the outbox's due messages, as every ``pta serve``
worker also does by itself."""

from __future__ import annotations

import argparse
import asyncio

from app.cli.common import log
from app.config import Settings
from app.db import Database
from app.services import delivery


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    webhooks = commands.add_parser("webhooks", help="outbound notifications").add_subparsers(
        dest="webhooks", required=True
    )
    deliver = webhooks.add_parser(
        "deliver",
        help="deliver due webhook messages",
        description="Deliver the webhook messages that are due, beside (or instead of) the "
        "delivery every pta serve worker runs; several may run at once.",
    )
    deliver.add_argument(
        "--once",
        action="store_true",
        help="deliver what is due now, print how many attempts were made, then exit",
    )
    deliver.set_defaults(handler=cmd_deliver, needs_schema=True)


def cmd_deliver(args: argparse.Namespace, settings: Settings) -> int:
    config = delivery.DeliveryConfig.from_settings(settings)

    async def main() -> int:
        database = Database(settings.database_url, settings.model_copy(update={"pool_size": 2}))
        await database.start()
        try:
            if args.once:
                return await delivery.deliver_until_idle(database.transaction, config)
            log.info("delivering webhook messages until stopped")
            every = settings.webhook_poll_seconds or 1
            await delivery.deliver_forever(database.transaction, config, every)
            return 0
        finally:
            await database.close()

    attempted = asyncio.run(main())
    log.info("webhook messages attempted", extra={"count": attempted})
    print(attempted)
    return 0
