"""A scratch PostgreSQL database for a benchmark: created, preloaded, counted and dropped here."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from benchmarks import database
from benchmarks.figures import BenchmarkFailure
from storage import PostgresStorage

SERVER = "postgresql://postgres@127.0.0.1:5432"
# Where CREATE DATABASE and DROP DATABASE are sent from: the machine's own test database.
MAINTENANCE = f"{SERVER}/test"


class NoServer(Exception):
    """No PostgreSQL answers at MAINTENANCE; the message says why."""


@asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    """The URL of a new, empty database, dropped afterwards with whatever still uses it."""
    try:
        admin = await asyncpg.connect(MAINTENANCE, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        raise NoServer(f"PostgreSQL is not reachable at {MAINTENANCE} ({exc})") from None
    name = f"checkout_bench_{uuid.uuid4().hex}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{SERVER}/{name}"
        finally:
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def create_with_pending_orders(url: str, count: int) -> None:
    """Migrate the database (by the storage itself) and add `count` pending orders, the same
    as database.create_with_pending_orders does in SQLite: order i has `cs_bench_{i-1}`."""
    async with PostgresStorage(url):
        pass
    now = int(time.time())
    connection = await asyncpg.connect(url)
    try:
        await connection.executemany(
            "INSERT INTO orders (id, telegram_user_id, chat_id, buyer_name, buyer_username,"
            " language, product_id, product_title, quantity, unit_amount, amount_total,"
            " currency, status, checkout_session_id, checkout_url, checkout_expires_at,"
            " created_at, updated_at)"
            " VALUES ($1, $2, $3, 'Bench Buyer', NULL, 'en', 'forest-hiker', 'The Forest Hiker',"
            " 1, $4, $5, $6, 'pending', $7, $8, $9, $10, $11)",
            [
                (
                    order_id,
                    database.chat_of(order_id),
                    database.chat_of(order_id),
                    database.AMOUNT,
                    database.AMOUNT,
                    database.CURRENCY,
                    f"{database.SESSION_PREFIX}{order_id - 1}",
                    f"https://checkout.stripe.com/c/pay/{database.SESSION_PREFIX}{order_id - 1}",
                    now + 1800,
                    now,
                    now,
                )
                for order_id in range(1, count + 1)
            ],
        )
        # The ids were given, not drawn: the next order the bot makes comes after them.
        await connection.execute(
            "SELECT setval(pg_get_serial_sequence('orders', 'id'), (SELECT max(id) FROM orders))"
        )
    finally:
        await connection.close()


async def expect_counts(url: str, expected: dict[str, int]) -> None:
    """Each SQL count (database.PAID_ORDERS and the like) must equal its expected figure."""
    connection = await asyncpg.connect(url)
    try:
        found = {sql: int(await connection.fetchval(sql)) for sql in expected}
    finally:
        await connection.close()
    wrong = {sql: (found[sql], want) for sql, want in expected.items() if found[sql] != want}
    if wrong:
        lines = [f"  {sql}: found {got}, expected {want}" for sql, (got, want) in wrong.items()]
        raise BenchmarkFailure("wrong outcome in the database:\n" + "\n".join(lines))
