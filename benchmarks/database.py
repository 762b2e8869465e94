"""The bot's SQLite file as the benchmarks prepare and inspect it, with plain SQL."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from benchmarks.figures import BenchmarkFailure
from storage import SQLiteStorage

# What loadgen/gen.py puts in every event: 397.00 USD, session ids PREFIX0…, order ids 1…N.
AMOUNT = 39700
CURRENCY = "usd"
SESSION_PREFIX = "cs_bench_"
FIRST_CHAT_ID = 100_000


def chat_of(order_id: int) -> int:
    """The buyer's chat of preloaded order `order_id` (gen.py's client_reference_id)."""
    return FIRST_CHAT_ID + order_id - 1


async def create_with_pending_orders(path: Path, count: int) -> None:
    """A new database (migrated by the storage itself) holding `count` pending orders.

    Order i (1…count) has Checkout Session `cs_bench_{i-1}`, as gen.py's events name them.
    """
    async with SQLiteStorage(path):
        pass
    now = int(time.time())
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO orders (id, telegram_user_id, chat_id, buyer_name, buyer_username,"
            " language, product_id, product_title, quantity, unit_amount, amount_total,"
            " currency, status, checkout_session_id, checkout_url, checkout_expires_at,"
            " created_at, updated_at)"
            " VALUES (?, ?, ?, 'Bench Buyer', NULL, 'en', 'forest-hiker', 'The Forest Hiker',"
            " 1, ?, ?, ?, 'pending', ?, ?, ?, ?, ?)",
            (
                (
                    order_id,
                    chat_of(order_id),
                    chat_of(order_id),
                    AMOUNT,
                    AMOUNT,
                    CURRENCY,
                    f"{SESSION_PREFIX}{order_id - 1}",
                    f"https://checkout.stripe.com/c/pay/{SESSION_PREFIX}{order_id - 1}",
                    now + 1800,
                    now,
                    now,
                )
                for order_id in range(1, count + 1)
            ),
        )
    db.close()


def count(path: Path, sql: str) -> int:
    with sqlite3.connect(path) as db:
        value = db.execute(sql).fetchone()[0]
    db.close()
    return int(value)


def expect_counts(path: Path, expected: dict[str, int]) -> None:
    """Each SQL count must equal its expected figure; a fast wrong answer is not a figure."""
    wrong = {sql: (count(path, sql), want) for sql, want in expected.items()}
    wrong = {sql: pair for sql, pair in wrong.items() if pair[0] != pair[1]}
    if wrong:
        lines = [f"  {sql}: found {found}, expected {want}" for sql, (found, want) in wrong.items()]
        raise BenchmarkFailure("wrong outcome in the database:\n" + "\n".join(lines))


PAID_ORDERS = "SELECT count(*) FROM orders WHERE status = 'paid'"
OUTBOX_ROWS = "SELECT count(*) FROM outbox"
EVENTS = "SELECT count(*) FROM stripe_events"
SENT_MESSAGES = "SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL"
PENDING_WITH_LINK = (
    "SELECT count(*) FROM orders WHERE status = 'pending' AND checkout_session_id IS NOT NULL"
)
