"""Digital goods in the store, on SQLite and PostgreSQL: key pools, invite links, uploaded
files' ids and payments in Stars."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from storage import NewOrder, OrderLine, OrderStatus, Storage, open_storage
from tests.helpers import new_order


def key_order(user_id: int = 7, quantity: int = 1) -> NewOrder:
    line = OrderLine("key", "Licence key", 90, quantity)
    return dataclasses.replace(new_order(user_id), currency="xtr", lines=(line,))


async def new_key_order(store: Storage, user_id: int = 7, quantity: int = 1) -> int:
    order = await store.create_order_within_stock(key_order(user_id, quantity), {})
    assert order is not None
    return order.id


async def test_a_key_pool_is_the_stock_and_grows_when_the_owner_appends(store: Storage) -> None:
    assert await store.add_keys({"key": ["AAAA-1", "BBBB-2"]}) == {"key": 2}
    assert await store.stock_left(["key"]) == {"key": 2}
    order_id = await new_key_order(store)
    async with store.transaction() as tx:
        assert await tx.take_keys(order_id, "key", 1) == ["AAAA-1"]
    # The owner appends a code and reloads: the file still holds the sold one, which stays sold.
    assert await store.add_keys({"key": ["AAAA-1", "BBBB-2", "CCCC-3"]}) == {"key": 2}
    assert await store.free_keys("key") == 2
    assert await store.keys_of(order_id) == ["AAAA-1"]
    # An order takes its codes once: taking again gives the same ones.
    pair = await new_key_order(store, quantity=2)
    async with store.transaction() as tx:
        first = await tx.take_keys(pair, "key", 2)
    async with store.transaction() as tx:
        again = await tx.take_keys(pair, "key", 2)
    assert first == again == ["BBBB-2", "CCCC-3"]
    assert await store.free_keys("key") == 0
    # An order's codes are taken per product: another pool's for the same order are its own.
    await store.add_keys({"gift": ["GIFT-1"]})
    async with store.transaction() as tx:
        assert await tx.take_keys(pair, "gift", 1) == ["GIFT-1"]
    assert await store.keys_of(pair, "gift") == ["GIFT-1"]
    assert await store.keys_of(pair) == ["BBBB-2", "CCCC-3", "GIFT-1"]
    # A failed transaction gives its codes back.
    await store.add_keys({"key": ["DDDD-4"]})
    late = await new_key_order(store, user_id=9)
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            assert await tx.take_keys(late, "key", 1) == ["DDDD-4"]
            raise RuntimeError("the order could not be marked paid")
    assert await store.free_keys("key") == 1
    assert await store.keys_of(late) == []


async def test_replicas_racing_for_the_last_code_one_gets_it(database_url: str) -> None:
    """Two stores on one database (replicas, on PostgreSQL) load the pool and take its last
    code at once."""
    first, second = open_storage(database_url), open_storage(database_url)
    await first.open()
    await second.open()
    try:
        # Replicas starting together record the catalog's goods at once, without a clash.
        kinds = {"key": "keys", "club": "invite"}
        await asyncio.gather(
            first.record_digital_products(kinds), second.record_digital_products(kinds)
        )
        await asyncio.gather(
            first.add_keys({"key": ["LAST-CODE"]}), second.add_keys({"key": ["LAST-CODE"]})
        )
        orders = [await new_key_order(first, user_id) for user_id in (7, 8)]

        async def take(store: Storage, order_id: int) -> list[str]:
            async with store.transaction() as tx:
                return await tx.take_keys(order_id, "key", 1)

        got = await asyncio.gather(take(first, orders[0]), take(second, orders[1]))
        assert sorted(got) == [[], ["LAST-CODE"]]
        assert await first.free_keys("key") == 0
    finally:
        await first.close()
        await second.close()


async def test_what_products_deliver_links_files_and_star_payments(store: Storage) -> None:
    await store.record_digital_products({"key": "keys", "club": "invite"})
    await store.record_digital_products({"key": "keys"})
    async with store.transaction() as tx:
        assert await tx.digital_kind("key") == "keys"
        assert await tx.digital_kind("club") is None
    # The first invite link kept for an order stays.
    order_id = await new_key_order(store)
    kept = await store.save_invite_link(order_id, -1001, "https://t.me/+first")
    again = await store.save_invite_link(order_id, -1001, "https://t.me/+second")
    assert kept == again == "https://t.me/+first"
    other = await store.save_invite_link(order_id, -1002, "https://t.me/+other")
    assert other == "https://t.me/+other"
    await store.mark_invite_revoked(order_id, -1001)
    links = {link.chat_id: link for link in await store.invite_links_of(order_id)}
    assert links[-1001].invite_link == "https://t.me/+first"
    assert links[-1001].revoked_at is not None and links[-1002].revoked_at is None
    # Uploaded files are remembered by path.
    assert await store.file_id_for("/srv/guide.pdf") is None
    await store.remember_file_id("/srv/guide.pdf", "BQACAgIAAxkBAAIB")
    assert await store.file_id_for("/srv/guide.pdf") == "BQACAgIAAxkBAAIB"
    # A payment in Stars is recorded and refunded once.
    async with store.transaction() as tx:
        assert await tx.record_star_payment("stxCHARGE1", order_id, 7, 150)
    async with store.transaction() as tx:
        assert not await tx.record_star_payment("stxCHARGE1", order_id, 7, 150)
        assert await tx.mark_star_refunded("stxCHARGE1")
        assert not await tx.mark_star_refunded("stxCHARGE1")
    [payment] = await store.star_payments_of_buyer(7, 5)
    assert (payment.charge_id, payment.amount, payment.order_id) == ("stxCHARGE1", 150, order_id)
    assert payment.refunded_at is not None
    assert await store.star_payments_of_buyer(8, 5) == []
    order = await store.get_order(order_id)
    assert order is not None and order.status is OrderStatus.PENDING
