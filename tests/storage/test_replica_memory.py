"""What replicas decide in the database rather than in a process's memory, on both backends:
the claim on a confirmed refund (a lease) and the guardian's memory; and the migrations that
added them (0024, 0025) applied to a database already holding data."""

from __future__ import annotations

import time

from storage import RefundAsk, RefundClaim, Storage
from tests.databases import execute, fetch, opened_storage
from tests.helpers import new_order

LEASE = 120.0


async def confirmed(store: Storage, message_id: int = 10) -> RefundAsk:
    """A refund of 50 of a new order confirmed in message `message_id` of chat 1, not yet
    answered by Stripe."""
    order = await store.create_order_within_stock(new_order(), {})
    assert order is not None
    ask = RefundAsk(1, message_id, order.id, 5000, f"refund-{order.id}", 1)
    assert await store.answer_refund_question(1, message_id, confirmed=True, admin_id=1, ask=ask)
    return ask


async def test_one_claim_on_a_refund_at_a_time_until_it_ends_or_runs_out(store: Storage) -> None:
    ask = await confirmed(store)
    now = time.time()
    assert await store.claim_refund_ask(1, 10, now, now + LEASE) == RefundClaim.MINE
    assert await store.claim_refund_ask(1, 10, now + 1, now + 1 + LEASE) == RefundClaim.TAKEN
    # Its holder was killed: once the lease has run out, another takes it.
    later = now + LEASE
    assert await store.claim_refund_ask(1, 10, later, later + LEASE) == RefundClaim.MINE
    # The first holder's late release leaves the new claim alone.
    await store.release_refund_ask(1, 10, now + LEASE)
    assert await store.claim_refund_ask(1, 10, later + 1, later + 1 + LEASE) == RefundClaim.TAKEN
    await store.release_refund_ask(1, 10, later + LEASE)
    assert await store.claim_refund_ask(1, 10, later + 2, later + 2 + LEASE) == RefundClaim.MINE

    async with store.transaction() as tx:
        await tx.settle_refund_ask(ask, made=True)
    # Settled: nothing is left to ask, whoever claims it.
    closed = await store.claim_refund_ask(1, 10, later + 3 * LEASE, later + 4 * LEASE)
    assert closed == RefundClaim.CLOSED
    # No such question.
    assert await store.claim_refund_ask(2, 10, now, now + LEASE) == RefundClaim.CLOSED


async def test_one_claim_per_order_whichever_question_asks(store: Storage) -> None:
    """Two questions of one order: while one's refund is on its way to Stripe, the other's
    waits, so that what is left is checked after the first is recorded."""
    ask = await confirmed(store)
    second = RefundAsk(1, 12, ask.order_id, 1000, f"refund-{ask.order_id}-12", 1)
    assert await store.answer_refund_question(1, 12, confirmed=True, admin_id=1, ask=second)
    other = await confirmed(store, 13)  # another order's question is not held back
    assert other.order_id != ask.order_id
    now = time.time()
    assert await store.claim_refund_ask(1, 10, now, now + LEASE) == RefundClaim.MINE
    assert await store.claim_refund_ask(1, 12, now, now + LEASE) == RefundClaim.ORDER_BUSY
    assert await store.claim_refund_ask(1, other.message_id, now, now + LEASE) == (RefundClaim.MINE)
    await store.release_refund_ask(1, 10, now + LEASE)
    assert await store.claim_refund_ask(1, 12, now + 1, now + 1 + LEASE) == RefundClaim.MINE
    assert await store.claim_refund_ask(1, 10, now + 2, now + 2 + LEASE) == RefundClaim.ORDER_BUSY
    # A killed holder's claim runs out for the order too.
    later = now + 1 + LEASE
    assert await store.claim_refund_ask(1, 10, later, later + LEASE) == RefundClaim.MINE


async def test_a_cancelled_question_cannot_be_claimed(store: Storage) -> None:
    assert await store.answer_refund_question(1, 11, confirmed=False, admin_id=1)
    now = time.time()
    assert await store.claim_refund_ask(1, 11, now, now + LEASE) == RefundClaim.CLOSED


async def test_the_guardians_memory_is_replaced_whole(store: Storage) -> None:
    assert await store.guardian_told() == {}
    await store.remember_guardian_told({"outbox_stuck": 100.5, "signature_mismatch": 200.0})
    assert await store.guardian_told() == {"outbox_stuck": 100.5, "signature_mismatch": 200.0}
    await store.remember_guardian_told({"signature_mismatch": 3800.0})
    assert await store.guardian_told() == {"signature_mismatch": 3800.0}


async def test_the_migrations_apply_to_a_database_holding_data(database_url: str) -> None:
    """A database as it was before 0024 and 0025, with an unsettled refund and a paid order:
    opened by this version, it keeps them, and the refund can be claimed and finished."""
    async with opened_storage(database_url) as store:
        ask = await confirmed(store)
    await execute(database_url, "ALTER TABLE refund_questions DROP COLUMN claimed_until")
    await execute(database_url, "DROP TABLE guardian_told")
    await execute(database_url, "DELETE FROM schema_migrations WHERE version IN (24, 25)")
    before = await fetch(database_url, "SELECT * FROM refund_questions")
    orders = await fetch(database_url, "SELECT id, status FROM orders")

    async with opened_storage(database_url) as store:
        assert await store.unsettled_refund_asks() == [ask]
        now = time.time()
        assert await store.claim_refund_ask(1, 10, now, now + LEASE) == RefundClaim.MINE
        await store.remember_guardian_told({"outbox_stuck": now})
        assert await store.guardian_told() == {"outbox_stuck": now}
    after = await fetch(database_url, "SELECT * FROM refund_questions")
    assert [{k: v for k, v in row.items() if k != "claimed_until"} for row in after] == before
    assert [row["claimed_until"] for row in after] == [now + LEASE]
    assert await fetch(database_url, "SELECT id, status FROM orders") == orders
    versions = await fetch(database_url, "SELECT version FROM schema_migrations")
    assert {24, 25} <= {row["version"] for row in versions}
