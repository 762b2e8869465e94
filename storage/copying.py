"""Moving a shop to PostgreSQL (`checkout-bot copy-db --to URL`): every table of the shop's
database, row for row, ids and instance id kept, into a PostgreSQL database holding no orders.

schema_migrations is not copied: each database records its own backend's migrations, which
both stores apply when opened here.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import asyncpg

from storage.postgres.engine import DATABASE_ERRORS
from storage.protocol import StorageError
from storage.urls import is_postgres, open_storage, sqlite_path

# Parents before the rows that refer to them.
TABLES = (
    "meta",
    "orders",
    "order_lines",
    "order_history",
    "stripe_events",
    "outbox",
    "refunds",
    "admin_alerts",
    "stock_levels",
    "buyer_languages",
    "admin_menus",
    "refund_questions",
    "digital_products",
    "key_codes",
    "invite_links",
    "sent_files",
    "star_payments",
    "carts",
    "cart_lines",
)
# Tables whose id PostgreSQL generates: their sequence goes on after the copied ids.
_GENERATED_IDS = ("orders", "order_history", "outbox", "key_codes")


class TargetHoldsOrders(StorageError):
    """The target database already has orders: copying would mix two shops."""


async def copy_database(source_url: str, target_url: str) -> dict[str, int]:
    """Copy the shop at `source_url` into the PostgreSQL database at `target_url`; returns the
    rows copied per table. Raises TargetHoldsOrders, or StorageError, and copies nothing then."""
    if not is_postgres(target_url):
        raise StorageError("the target must be a postgresql:// URL")
    for url in (source_url, target_url):  # creates and migrates both to the same schema
        store = open_storage(url)
        await store.open()
        await store.close()
    try:
        target = await asyncpg.connect(target_url)
    except DATABASE_ERRORS as exc:
        raise StorageError(f"cannot connect to the target: {exc}") from exc
    try:
        if await target.fetchval("SELECT count(*) FROM orders"):
            raise TargetHoldsOrders("the target database already holds orders: nothing copied")
        copied: dict[str, int] = {}
        async with target.transaction():
            # The target's own instance id and any preferences give way to the shop's.
            await target.execute(f"TRUNCATE {', '.join(TABLES)}")
            for table in TABLES:
                columns = await _columns(target, table)
                records = await _source_rows(source_url, table, list(columns))
                converted = [_converted(record, list(columns.values())) for record in records]
                await target.copy_records_to_table(table, records=converted, columns=list(columns))
                copied[table] = len(converted)
            for table in _GENERATED_IDS:
                await target.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                )
        return copied
    except DATABASE_ERRORS as exc:
        raise StorageError(f"the copy failed, nothing was copied: {exc}") from exc
    finally:
        await target.close()


async def _columns(target: asyncpg.Connection, table: str) -> dict[str, str]:
    """The table's columns in the target, with their types, in their order."""
    rows = await target.fetch(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        table,
    )
    return {row["column_name"]: row["data_type"] for row in rows}


async def _source_rows(url: str, table: str, columns: list[str]) -> list[tuple[Any, ...]]:
    select = f"SELECT {', '.join(columns)} FROM {table}"
    path = sqlite_path(url)
    if path is not None:
        try:
            with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as db:
                return [tuple(row) for row in db.execute(select)]
        except sqlite3.Error as exc:
            raise StorageError(f"cannot read {table} from {path}: {exc}") from exc
    try:
        source = await asyncpg.connect(url)
    except DATABASE_ERRORS as exc:
        raise StorageError(f"cannot connect to the source: {exc}") from exc
    try:
        return [tuple(row) for row in await source.fetch(select)]
    finally:
        await source.close()


def _converted(record: tuple[Any, ...], types: list[str]) -> tuple[Any, ...]:
    """SQLite may hand back a whole number for a REAL column; PostgreSQL's binary copy wants
    a float there."""
    return tuple(
        float(value) if kind == "double precision" and value is not None else value
        for value, kind in zip(record, types, strict=True)
    )
