"""An order without a Checkout Session (an invoice in Telegram Stars) taking its hold on its
units again, on both backends: replicas racing for the last unit, a key pool with fewer codes
than its stock says, and migration 0026 on a database holding orders."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from storage import NewOrder, OrderLine, OrderStatus, Storage, open_storage
from storage.urls import is_postgres
from tests.databases import fetch, write_schema_up_to
from tests.helpers import new_order

# The migration that added orders.held_until.
HELD_UNTIL = 26
# Longer than an order holds its units from its creation, or from a hold taken again.
PAST_A_HOLD = 11 * 60
HIKER = {"forest-hiker": 1}


class MovableClock:
    """The wall clock, which the test moves forward."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead

    def pass_seconds(self, seconds: float) -> None:
        self.ahead += seconds


@asynccontextmanager
async def two_replicas(url: str, clock: MovableClock) -> AsyncIterator[tuple[Storage, Storage]]:
    """Two stores on one PostgreSQL database, as two processes have; on SQLite, which one
    process opens, the same store twice."""
    first = open_storage(url, clock=clock)
    second = open_storage(url, clock=clock) if is_postgres(url) else first
    await first.open()
    if second is not first:
        await second.open()
    try:
        yield first, second
    finally:
        if second is not first:
            await second.close()
        await first.close()


async def hold(store: Storage, order_id: int) -> bool:
    async with store.transaction() as tx:
        return await tx.hold_units(order_id)


async def created(store: Storage, new: NewOrder, stock: dict[str, int]) -> int:
    order = await store.create_order_within_stock(new, stock)
    assert order is not None
    return order.id


async def test_orders_past_their_hold_race_for_the_last_unit_and_one_gets_it(
    database_url: str,
) -> None:
    clock = MovableClock()
    async with two_replicas(database_url, clock) as (first, second):
        ada = await created(first, new_order(7), HIKER)
        assert await second.create_order_within_stock(new_order(8), HIKER) is None
        clock.pass_seconds(PAST_A_HOLD)  # Ada's order no longer holds the unit: Bea gets it
        bea = await created(second, new_order(8), HIKER)
        clock.pass_seconds(PAST_A_HOLD)  # neither holds it now
        assert await first.stock_left(["forest-hiker"]) == HIKER
        before = await fetch(database_url, "SELECT * FROM orders ORDER BY id")

        held = await asyncio.gather(hold(first, ada), hold(second, bea))
        assert sorted(held) == [False, True]
        winner, loser = (ada, bea) if held[0] else (bea, ada)
        assert await first.stock_left(["forest-hiker"]) == {"forest-hiker": 0}
        after = {row["id"]: row for row in await fetch(database_url, "SELECT * FROM orders")}
        assert [after[row["id"]] for row in before if row["id"] == loser] == [
            row for row in before if row["id"] == loser
        ]
        assert after[winner]["held_until"] > clock()
        # The loser asks again: still refused while the winner's hold lasts; taken once it ran
        # out unpaid.
        assert not await hold(second, loser)
        clock.pass_seconds(PAST_A_HOLD)
        assert await hold(second, loser)
        assert not await hold(first, winner)


def key_order(user_id: int, quantity: int = 1) -> NewOrder:
    return dataclasses.replace(
        new_order(user_id),
        currency="xtr",
        lines=(OrderLine("key", "Licence key", 90, quantity),),
    )


async def test_a_key_pool_holds_no_more_codes_than_it_has_left(
    store: Storage, database_url: str
) -> None:
    """A refunded order holds no units but keeps its code: the pool's stock says two while
    one code is left, and the shop offers one (a buyer paying by card could otherwise pay for
    a code that is not there). Two invoices are made; the first yes takes the code, the
    second is refused, and each refusal leaves the order as it was."""
    await store.record_digital_products({"key": "keys"})
    assert await store.add_keys({"key": ["KEY-1", "KEY-2"]}) == {"key": 2}
    refunded = await created(store, key_order(5), {})
    async with store.transaction() as tx:
        assert await tx.take_keys(refunded, "key", 1) == ["KEY-1"]
        order = await tx.get_order(refunded)
        assert order is not None and await tx.advance(order, OrderStatus.PAID, source="test")
    async with store.transaction() as tx:
        order = await tx.get_order(refunded)
        assert order is not None and await tx.advance(order, OrderStatus.REFUNDED, source="t")
    assert await store.stock_left(["key"]) == {"key": 1}
    assert await store.free_keys("key") == 1
    assert await store.create_order_within_stock(key_order(6, quantity=2), {"key": 2}) is None

    ada = await created(store, key_order(7), {"key": 2})
    bea = await created(store, key_order(8), {"key": 2})
    assert await hold(store, bea)
    assert not await hold(store, ada)
    (row,) = await fetch(database_url, "SELECT held_until FROM orders WHERE id = $1", ada)
    assert row["held_until"] is None


async def write_schema_before_holds(url: str) -> None:
    """The database as the shop wrote it before migration 0026: a pending order of a Stars
    product with one unit in stock, made long ago, with no Checkout Session."""
    long_ago = int(time.time()) - PAST_A_HOLD
    statements = [
        "INSERT INTO orders (telegram_user_id, chat_id, buyer_name, product_id, product_title,"
        " quantity, unit_amount, amount_total, currency, status, created_at, updated_at)"
        f" VALUES (7, 7, 'Ada', 'notes', 'Notes', 1, 40, 40, 'xtr', 'pending', {long_ago},"
        f" {long_ago})",
        "INSERT INTO order_lines (order_id, line_no, product_id, title, unit_amount, quantity)"
        " VALUES (1, 1, 'notes', 'Notes', 40, 1)",
        "INSERT INTO stock_levels (product_id, stock, after_order_id, recorded_at)"
        f" VALUES ('notes', 1, 0, {long_ago})",
    ]
    await write_schema_up_to(url, HELD_UNTIL - 1, statements)


async def test_orders_stored_before_holds_take_their_hold_again(database_url: str) -> None:
    await write_schema_before_holds(database_url)
    storage = open_storage(database_url)
    await storage.open()
    try:
        (order,) = await fetch(database_url, "SELECT id, status, held_until FROM orders")
        assert (order["status"], order["held_until"]) == ("pending", None)
        assert await storage.stock_left(["notes"]) == {"notes": 1}  # its hold ran out
        assert await hold(storage, order["id"])
        assert await storage.stock_left(["notes"]) == {"notes": 0}
    finally:
        await storage.close()
    versions = await fetch(database_url, "SELECT version FROM schema_migrations")
    assert HELD_UNTIL in [row["version"] for row in versions]
