"""copy-db: a shop that started on SQLite moves to PostgreSQL with the same figures, the same
export and the same ids, and a target that holds orders is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage import MessageKind, OrderFacts, OrderStatus, PostgresStorage, SQLiteStorage, Storage
from storage.copying import TargetHoldsOrders, copy_database
from storage.models import Order, PeriodFigures
from tests.helpers import new_order


async def fill(store: Storage) -> None:
    """Orders in several states and currencies, a refund, an outbox row and preferences."""
    for user in range(1, 6):
        order = await store.create_order_within_stock(
            new_order(user_id=user, amount=1000 * user, quantity=user % 2 + 1), stock={}
        )
        assert order is not None
        if user == 5:
            continue  # stays pending
        async with store.transaction() as tx:
            await tx.remember_event(f"evt_{user}", "checkout.session.completed")
            facts = OrderFacts(payment_intent_id=f"pi_{user}", amount_received=900 * user)
            assert await tx.advance(order, OrderStatus.PAID, source="test", facts=facts)
            await tx.enqueue(order.chat_id, MessageKind.PAYMENT_RECEIVED, order.id)
    async with store.transaction() as tx:
        await tx.record_refund("re_1", 2, 500, "succeeded")
        await tx.set_amount_refunded(2, 500)
    await store.set_alerts(111, True)
    await store.set_buyer_language(3, "fr")
    await store.record_stock_levels({"lamp": 4})


async def figures_and_export(store: Storage) -> tuple[PeriodFigures, list[Order]]:
    exported = [
        order
        async for chunk in store.reports.orders_created(None, None, chunk_size=2)
        for order in chunk
    ]
    return await store.reports.period_figures(None, None, 10), exported


async def test_a_shop_moves_from_sqlite_with_the_same_figures_and_export(
    tmp_path: Path, postgres_url: str
) -> None:
    path = tmp_path / "shop.db"
    async with SQLiteStorage(path) as before:
        await fill(before)
        expected = await figures_and_export(before)
        instance_id = before.instance_id

    copied = await copy_database(f"sqlite:///{path}", postgres_url)
    assert copied["orders"] == 5 and copied["refunds"] == 1

    async with PostgresStorage(postgres_url) as after:
        assert await figures_and_export(after) == expected
        assert expected[0].currencies and expected[1]
        assert after.instance_id == instance_id
        assert await after.alerts_enabled(111) and await after.buyer_language(3) == "fr"
        assert [m.order_id for m in await after.due_messages(now=10**12, limit=10)] == [1, 2, 3, 4]
        # New rows take ids after the copied ones.
        order = await after.create_order_within_stock(new_order(user_id=9), stock={})
        assert order is not None and order.id == 6


async def test_a_target_that_holds_orders_is_refused(tmp_path: Path, postgres_url: str) -> None:
    path = tmp_path / "shop.db"
    async with SQLiteStorage(path) as source:
        await fill(source)
    async with PostgresStorage(postgres_url) as target:
        kept = await target.create_order_within_stock(new_order(user_id=42), stock={})
    with pytest.raises(TargetHoldsOrders, match="already holds orders"):
        await copy_database(f"sqlite:///{path}", postgres_url)
    async with PostgresStorage(postgres_url) as target:
        assert await target.orders_of_buyer(42, 10) == [kept]
        assert await target.orders_of_buyer(1, 10) == []
