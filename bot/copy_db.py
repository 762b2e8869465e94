"""`checkout-bot copy-db --to postgresql://…`: moves the shop in the configured DATABASE_URL
to a PostgreSQL database that holds no orders yet."""

from __future__ import annotations

import argparse
import asyncio

from bot.settings import ConfigurationError, load_settings
from storage.copying import copy_database
from storage.protocol import StorageError

EXIT_REFUSED = 1
EXIT_CONFIGURATION = 2


def main(argv: list[str]) -> int:
    """Copy, print what was copied per table; one line on stderr and non-zero if it cannot."""
    parser = argparse.ArgumentParser(prog="checkout-bot copy-db")
    parser.add_argument("--to", required=True, help="postgresql://USER:PASSWORD@HOST:PORT/DB")
    target = parser.parse_args(argv).to
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        parser.exit(EXIT_CONFIGURATION, f"checkout-bot: {exc}\n")
    if settings.database_url == target:
        parser.exit(EXIT_REFUSED, "checkout-bot: the target is the configured database itself\n")
    try:
        copied = asyncio.run(copy_database(settings.database_url, target))
    except StorageError as exc:
        parser.exit(EXIT_REFUSED, f"checkout-bot: copy-db: {exc}\n")
    for table, count in copied.items():
        print(f"{table}: {count} rows")
    print("copied; set DATABASE_URL to the new database and start the bot")
    return 0
