"""The Storage protocol's promises, held by both backends: every test runs on SQLite and on
PostgreSQL (the `database_url` fixture)."""

import asyncio
import os
import stat
import time
from pathlib import Path

import pytest

from storage import (
    MessageKind,
    OrderFacts,
    OrderStatus,
    PostgresStorage,
    SQLiteStorage,
    Storage,
    StorageError,
    open_storage,
)
from storage.postgres.migrate import available_migrations as postgres_migrations
from storage.sqlite.migrate import available_migrations as sqlite_migrations
from storage.sqlite.stock import LINK_MAKING_SECONDS
from tests.databases import execute, fetch
from tests.helpers import new_order

# The catalog's stock of the Forest Hiker, as a Buy tap passes it.
ONE_LEFT = {"forest-hiker": 1}
TWO_LEFT = {"forest-hiker": 2}


def shipped_migrations(url: str) -> list[int]:
    found = postgres_migrations() if url.startswith("postgres") else sqlite_migrations()
    return [migration.version for migration in found]


async def test_migrations_run_once_and_are_recorded(database_url: str) -> None:
    first = open_storage(database_url)
    await first.open()
    instance_id = first.instance_id
    await first.close()
    again = open_storage(database_url)
    await again.open()
    assert again.instance_id == instance_id
    await again.close()
    stored = await fetch(database_url, "SELECT version FROM schema_migrations ORDER BY version")
    assert [row["version"] for row in stored] == shipped_migrations(database_url)


async def test_replicas_starting_together_migrate_once(postgres_url: str) -> None:
    """The advisory lock: the stores wait for each other, and each migration is recorded once
    (a second run of 0001 would fail on its CREATE TABLE and stop that store's start)."""
    stores = [PostgresStorage(postgres_url) for _ in range(3)]
    await asyncio.gather(*(store.open() for store in stores))
    assert len({store.instance_id for store in stores}) == 1
    for store in stores:
        await store.close()
    stored = await fetch(postgres_url, "SELECT version FROM schema_migrations")
    assert sorted(row["version"] for row in stored) == shipped_migrations(postgres_url)


def test_every_sqlite_migration_after_0009_has_a_postgres_one_of_its_number() -> None:
    """The two sets grow together: PostgreSQL's 0001 is SQLite's 0001 to 0009, and a later
    migration gets the same number in both (docs/ARCHITECTURE.md, "A migration")."""
    sqlite_versions = [m.version for m in sqlite_migrations()]
    postgres_versions = [m.version for m in postgres_migrations()]
    assert postgres_versions == [1, *(v for v in sqlite_versions if v > 9)]


async def test_each_database_has_its_own_instance_id(tmp_path: Path, postgres_url: str) -> None:
    async with (
        SQLiteStorage(tmp_path / "a.db") as a,
        SQLiteStorage(tmp_path / "b.db") as b,
        PostgresStorage(postgres_url) as c,
    ):
        assert len({a.instance_id, b.instance_id, c.instance_id}) == 3
        assert all(len(store.instance_id) == 16 for store in (a, b, c))
        assert all(int(store.instance_id, 16) >= 0 for store in (a, b, c))


async def test_an_unusable_path_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(StorageError, match="cannot open the database"):
        await SQLiteStorage(tmp_path / "file" / "shop.db").open()


async def test_an_unreachable_server_is_a_storage_error_without_the_password(
    closed_port: int,
) -> None:
    url = f"postgresql://shop:s3cret-pw@127.0.0.1:{closed_port}/shop"
    with pytest.raises(StorageError, match="cannot open the database") as raised:
        await PostgresStorage(url).open()
    assert "s3cret-pw" not in str(raised.value)
    assert f"shop@127.0.0.1:{closed_port}/shop" in str(raised.value)


async def test_a_new_order_is_pending_with_its_total(store: Storage) -> None:
    order = await store.create_order_within_stock(new_order(quantity=3, amount=1250), stock={})
    assert order.status is OrderStatus.PENDING
    assert order.amount_total == 3750
    assert await store.get_order(order.id) == order


async def test_a_transaction_that_raises_leaves_nothing(store: Storage) -> None:
    order = await store.create_order_within_stock(new_order(), stock={})
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            assert await tx.remember_event("evt_1", "checkout.session.completed")
            assert await tx.advance(order, OrderStatus.PAID, source="test")
            await tx.enqueue(order.chat_id, MessageKind.PAYMENT_RECEIVED, order.id)
            raise RuntimeError("crash before the commit")
    stored = await store.get_order(order.id)
    assert stored is not None and stored.status is OrderStatus.PENDING
    assert await store.due_messages(now=10**12, limit=10) == []
    async with store.transaction() as tx:
        assert await tx.remember_event("evt_1", "checkout.session.completed")


async def test_an_event_id_is_remembered_once(store: Storage) -> None:
    async with store.transaction() as tx:
        assert await tx.remember_event("evt_1", "checkout.session.completed")
        assert not await tx.remember_event("evt_1", "checkout.session.completed")


async def test_statuses_only_move_along_the_diagram(store: Storage) -> None:
    order = await store.create_order_within_stock(new_order(), stock={})
    async with store.transaction() as tx:
        facts = OrderFacts(payment_intent_id="pi_1")
        assert await tx.advance(order, OrderStatus.PAID, source="test", facts=facts)
    paid = await store.get_order(order.id)
    assert paid is not None and paid.status is OrderStatus.PAID and paid.paid_at is not None
    async with store.transaction() as tx:
        assert not await tx.advance(paid, OrderStatus.EXPIRED, source="test")
        assert not await tx.advance(paid, OrderStatus.PENDING, source="test")
    still = await store.get_order(order.id)
    assert still == paid
    history = await store.history_of(order.id)
    assert [(change.status, change.source) for change in history] == [
        (OrderStatus.PENDING, "tap"),
        (OrderStatus.PAID, "test"),
    ]


async def test_alerts_reach_only_the_admins_who_asked(store: Storage) -> None:
    order = await store.create_order_within_stock(new_order(), stock={})
    await store.set_alerts(111, True)
    await store.set_alerts(444, True)  # no longer an admin
    await store.set_alerts(222, True)
    await store.set_alerts(222, False)
    assert await store.alerts_enabled(111) and not await store.alerts_enabled(222)
    assert not await store.alerts_enabled(333)
    async with store.transaction() as tx:
        await tx.enqueue_alerts(MessageKind.ALERT_PAID, order.id, {111, 222, 333}, detail="x")
    due = await store.due_messages(now=10**12, limit=10)
    assert [(m.chat_id, m.kind, m.order_id, m.detail) for m in due] == [
        (111, MessageKind.ALERT_PAID, order.id, "x")
    ]


async def test_a_stale_copy_cannot_move_an_order_twice(store: Storage) -> None:
    """Two fulfilments holding the same pending copy: only the first one moves it."""
    order = await store.create_order_within_stock(new_order(), stock={})
    results = []
    for _ in range(2):
        async with store.transaction() as tx:
            results.append(await tx.advance(order, OrderStatus.PAID, source="test"))
    assert results == [True, False]


async def test_concurrent_transactions_do_not_interleave(store: Storage) -> None:
    orders = [
        await store.create_order_within_stock(new_order(user_id=i), stock={}) for i in range(1, 21)
    ]

    async def pay(index: int) -> None:
        async with store.transaction() as tx:
            await tx.remember_event(f"evt_{index}", "checkout.session.completed")
            fresh = await tx.get_order(orders[index].id)
            assert fresh is not None
            if await tx.advance(fresh, OrderStatus.PAID, source="test"):
                await tx.enqueue(fresh.chat_id, MessageKind.PAYMENT_RECEIVED, fresh.id)

    await asyncio.gather(*(pay(i % 20) for i in range(60)))
    assert len(await store.due_messages(now=10**12, limit=100)) == 20
    paid = [await store.get_order(order.id) for order in orders]
    assert all(order is not None and order.status is OrderStatus.PAID for order in paid)


async def test_outbox_retries_and_gives_up(store: Storage) -> None:
    order = await store.create_order_within_stock(new_order(), stock={})
    async with store.transaction() as tx:
        await tx.enqueue(order.chat_id, MessageKind.PAYMENT_RECEIVED, order.id)
        await tx.enqueue(order.chat_id + 1, MessageKind.ALERT_PAID, order.id)
    first, second = await store.due_messages(now=10**12, limit=10)
    await store.retry_later(first.id, at=10**11, error="timed out")
    await store.give_up(second.id, error="Forbidden: bot was blocked by the user")
    assert await store.next_attempt_at() == 10**11
    assert await store.due_messages(now=10**10, limit=10) == []
    (again,) = await store.due_messages(now=10**12, limit=10)
    assert (again.id, again.attempts) == (first.id, 1)
    await store.mark_sent([again.id])
    assert await store.next_attempt_at() is None


async def test_a_chats_messages_are_due_one_at_a_time_in_the_order_queued(
    store: Storage,
) -> None:
    """A message retried later holds back the ones queued after it to the same chat."""
    order = await store.create_order_within_stock(new_order(user_id=7), stock={})
    async with store.transaction() as tx:
        for kind in (MessageKind.PAYMENT_PROCESSING, MessageKind.PAYMENT_RECEIVED):
            await tx.enqueue(7, kind, order.id)
    (first,) = await store.due_messages(now=10**12, limit=10)
    assert first.kind is MessageKind.PAYMENT_PROCESSING
    await store.retry_later(first.id, at=10**11, error="Bad Gateway")

    assert await store.due_messages(now=10**10, limit=10) == []
    assert await store.next_attempt_at() == 10**11
    await store.give_up(first.id, error="Forbidden: bot was blocked by the user")
    (second,) = await store.due_messages(now=10**10, limit=10)
    assert second.kind is MessageKind.PAYMENT_RECEIVED


async def test_the_outbox_leaves_out_the_messages_and_chats_the_sender_is_busy_with(
    store: Storage,
) -> None:
    """The sender holds messages in flight or unrecorded; reading them again would resend them."""
    ada, bob = new_order(user_id=7), new_order(user_id=8)
    for order in (
        await store.create_order_within_stock(ada, stock={}),
        await store.create_order_within_stock(bob, stock={}),
    ):
        async with store.transaction() as tx:
            await tx.enqueue(order.chat_id, MessageKind.PAYMENT_RECEIVED, order.id)
            await tx.enqueue(order.chat_id, MessageKind.ALERT_PAID, order.id)
    ada_1, bob_1 = await store.due_messages(now=10**12, limit=10)
    await store.retry_later(bob_1.id, at=10**10, error="timed out")

    # Ada's first is in flight (or unrecorded): neither it nor the one behind it is due.
    due = await store.due_messages(now=10**12, limit=10, skip_ids=[ada_1.id])
    assert [m.id for m in due] == [bob_1.id]
    assert await store.due_messages(now=10**12, limit=10, skip_chats=[7, 8]) == []
    assert await store.next_attempt_at(skip_chats=[7]) == 10**10
    assert await store.next_attempt_at(skip_ids=[bob_1.id], skip_chats=[7]) is None
    assert await store.next_attempt_at(skip_chats=[8]) is not None


async def test_a_closed_store_answers_with_storage_errors(database_url: str) -> None:
    storage = open_storage(database_url)
    await storage.open()
    await storage.close()
    with pytest.raises(StorageError):
        await storage.ping()
    with pytest.raises(StorageError):
        async with storage.transaction() as tx:
            await tx.remember_event("evt_1", "checkout.session.completed")


async def test_a_failing_read_of_an_order_is_a_storage_error(
    store: Storage, database_url: str
) -> None:
    """Callers catch StorageError (the outbox backs off, the webhook answers 503), not the
    driver's own errors."""
    await execute(database_url, "ALTER TABLE orders RENAME TO orders_gone")
    with pytest.raises(StorageError, match="orders"):
        await store.get_order(1)
    with pytest.raises(StorageError, match="orders"):
        await store.open_link_for(1, "lamp", 0)
    with pytest.raises(StorageError, match="orders"):
        async with store.transaction() as tx:
            await tx.get_order(1)


async def test_only_as_many_orders_as_units_left_when_buyers_race(store: Storage) -> None:
    """Ten buyers tap at once for the last two units: two orders, eight refusals."""
    results = await asyncio.gather(
        *(
            store.create_order_within_stock(new_order(user_id=i), stock=TWO_LEFT)
            for i in range(1, 11)
        )
    )
    made = [order for order in results if order is not None]
    assert len(made) == 2
    assert await store.stock_left([made[0].lines[0].product_id]) == {made[0].lines[0].product_id: 0}


async def test_a_committed_block_is_seen_by_another_connection(
    store: Storage, database_url: str
) -> None:
    """The durability contract's order: the block returns after the COMMIT, never before."""
    async with store.transaction() as tx:
        assert await tx.remember_event("evt_1", "checkout.session.completed")
    stored = await fetch(database_url, "SELECT id, type FROM stripe_events")
    assert stored == [{"id": "evt_1", "type": "checkout.session.completed"}]


async def test_a_new_database_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """Buyers' names and payment ids: 0600 in a 0700 folder, whatever the umask."""
    path = tmp_path / "data" / "shop.db"
    async with SQLiteStorage(path) as storage:
        async with storage.transaction() as tx:
            await tx.remember_event("evt_1", "checkout.session.completed")
        wal_mode = mode(f"{path}-wal")
    assert mode(path.parent) == 0o700
    assert mode(path) == 0o600 and wal_mode == 0o600


async def test_a_folder_that_exists_keeps_its_mode(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    async with SQLiteStorage(tmp_path / "shop.db"):
        pass
    assert mode(tmp_path) == 0o755 and mode(tmp_path / "shop.db") == 0o600


def mode(path: str | Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


async def test_a_succeeded_refund_is_not_set_back_to_pending(store: Storage) -> None:
    """The refund-create answer (pending) recorded after its refund.updated (succeeded)."""
    order = await store.create_order_within_stock(new_order(amount=5000), stock={})
    async with store.transaction() as tx:
        succeeded_total = await tx.record_refund("re_1", order.id, 2000, "succeeded")
    async with store.transaction() as tx:
        after_late_answer = await tx.record_refund("re_1", order.id, 2000, "pending")
        status = await tx.refund_status("re_1")
    assert (succeeded_total, after_late_answer, status) == (2000, 2000, "succeeded")
    async with store.transaction() as tx:
        await tx.record_refund("re_1", order.id, 2000, "failed")  # a closed card, later
        assert await tx.refund_status("re_1") == "failed"


async def test_a_link_past_its_expiry_time_holds_its_unit_until_stripe_expires_it(
    store: Storage,
) -> None:
    """Ada paid just before her link's expiry time and her webhook is late: Bob gets nothing
    until Stripe says her session expired, which gives the unit back."""
    ada = await store.create_order_within_stock(new_order(user_id=1), stock=ONE_LEFT)
    assert ada is not None
    await store.attach_checkout(ada.id, "cs_ada", "https://pay/ada", int(time.time()) - 60)
    assert await store.create_order_within_stock(new_order(user_id=2), stock=ONE_LEFT) is None
    assert await store.stock_left(["forest-hiker"]) == {"forest-hiker": 0}
    async with store.transaction() as tx:
        assert await tx.advance(ada, OrderStatus.EXPIRED, source="checkout.session.expired")
    assert await store.stock_left(["forest-hiker"]) == {"forest-hiker": 1}
    assert await store.create_order_within_stock(new_order(user_id=2), stock=ONE_LEFT) is not None


async def test_an_order_left_without_a_link_stops_holding_after_a_while(
    store: Storage, database_url: str
) -> None:
    """A crash while asking Stripe for the link: the order holds its unit while a link could
    still come, then lets it go (fail_orphans fails it later)."""
    stuck = await store.create_order_within_stock(new_order(user_id=1), stock=ONE_LEFT)
    assert stuck is not None
    assert await store.create_order_within_stock(new_order(user_id=2), stock=ONE_LEFT) is None
    long_ago = int(time.time()) - LINK_MAKING_SECONDS - 60
    await execute(database_url, f"UPDATE orders SET created_at = {long_ago} WHERE id = {stuck.id}")
    assert await store.create_order_within_stock(new_order(user_id=2), stock=ONE_LEFT) is not None


async def test_an_order_never_given_a_link_is_failed_unless_a_yes_still_holds_it(
    store: Storage, database_url: str
) -> None:
    """Orphans (no Checkout Session after a day) are failed, but not a Stars order that was
    just told yes at its pre-checkout: its charge is on the way, and would be given back."""
    long_ago = int(time.time()) - 2 * 86_400
    orphan = await store.create_order_within_stock(new_order(user_id=1), stock={})
    answered = await store.create_order_within_stock(new_order(user_id=2), stock={})
    assert orphan is not None and answered is not None
    await execute(database_url, f"UPDATE orders SET created_at = {long_ago}")
    async with store.transaction() as tx:
        assert await tx.hold_units(answered.id)

    assert await store.fail_orphans(int(time.time()) - 86_400) == 1

    statuses = await fetch(database_url, "SELECT id, status FROM orders ORDER BY id")
    assert statuses == [
        {"id": orphan.id, "status": "failed"},
        {"id": answered.id, "status": "pending"},
    ]


async def test_waiting_orders_take_turns_and_a_retired_one_leaves_them(store: Storage) -> None:
    """Reconciliation reads those it looked at longest ago first, so none is left behind for
    good; an order retired (Stripe does not know its session) is flagged once and waits no
    more."""
    later = int(time.time()) + 3600
    made = []
    for user_id in range(1, 6):
        order = await store.create_order_within_stock(new_order(user_id=user_id), stock={})
        await store.attach_checkout(order.id, f"cs_{user_id}", "https://pay", later)
        made.append(order.id)
    batches = []
    for _ in range(3):
        batch = [order.id for order in await store.waiting_orders(later, 2)]
        await store.take_turns(batch)
        batches.append(batch)
    assert batches == [made[0:2], made[2:4], [made[4], made[0]]]

    async with store.transaction() as tx:
        assert await tx.retire_order(made[1], "unknown to Stripe")
        assert not await tx.retire_order(made[1], "told twice")
    assert made[1] not in [order.id for order in await store.waiting_orders(later, 10)]
    retired = await store.get_order(made[1])
    assert retired is not None and retired.flag == "unknown to Stripe"
