"""Refunds as Stripe reports them, and the answers to the admins' refund questions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from storage.models import RefundAsk, RefundClaim
from storage.sqlite.statements import Reads, Writes, now


async def record(db: Writes, refund_id: str, order_id: int, amount: int, status: str) -> int:
    """Store a refund as Stripe last reported it; returns the order's succeeded total.

    A failed or canceled refund stays so: an older event saying it succeeded may come after.
    A succeeded one never goes back to pending: the answer to the request that created it
    (pending) may be recorded after its `refund.updated` event (succeeded).
    """
    await db.execute(
        "INSERT INTO refunds (id, order_id, amount, status, created_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET amount = excluded.amount, status = CASE"
        " WHEN refunds.status IN ('failed', 'canceled') THEN refunds.status"
        " WHEN refunds.status = 'succeeded' AND excluded.status IN ('pending', 'requires_action')"
        " THEN refunds.status"
        " ELSE excluded.status END",
        (refund_id, order_id, amount, status, now()),
    )
    rows = await db.rows(
        "SELECT coalesce(sum(amount), 0) FROM refunds WHERE order_id = ? AND status = ?",
        (order_id, "succeeded"),
    )
    return int(rows[0][0])


async def undone(db: Reads, order_id: int) -> int:
    """What the order's failed and canceled refunds came to: money that went back to the
    shop's balance, which an older charge figure may still count as refunded."""
    rows = await db.rows(
        "SELECT coalesce(sum(amount), 0) FROM refunds"
        " WHERE order_id = ? AND status IN ('failed', 'canceled')",
        (order_id,),
    )
    return int(rows[0][0])


async def asked(db: Reads, order_id: int) -> int:
    """The refunds of an order Stripe made or is making (failed and canceled ones aside)."""
    rows = await db.rows(
        "SELECT coalesce(sum(amount), 0) FROM refunds WHERE order_id = ?"
        " AND status NOT IN ('failed', 'canceled')",
        (order_id,),
    )
    return int(rows[0][0])


async def status(db: Reads, refund_id: str) -> str | None:
    """The status last stored for a refund; None before any event about it."""
    rows = await db.rows("SELECT status FROM refunds WHERE id = ?", (refund_id,))
    return str(rows[0][0]) if rows else None


async def tell_requester_once(db: Writes, refund_id: str, admin_id: int) -> bool:
    """Note that the admin who asked for a refund is being told of it; False if they were."""
    changed = await db.execute(
        "UPDATE refunds SET requested_by = ?, requester_told = 1"
        " WHERE id = ? AND requester_told = 0",
        (admin_id, refund_id),
    )
    return changed.rowcount == 1


async def answer_question(
    db: Writes,
    chat_id: int,
    message_id: int,
    *,
    confirmed: bool,
    admin_id: int,
    ask: RefundAsk | None = None,
) -> bool:
    """Record the first answer to the refund question in message `message_id` of the chat, and
    for a Confirm what it asks of Stripe (unsettled until `settle_ask`); False when it was
    answered before (a stale button on a second device, a Cancel after a Confirm), durably: a
    restart does not open it again."""
    changed = await db.execute(
        "INSERT INTO refund_questions (chat_id, message_id, answer, answered_by, answered_at,"
        " order_id, amount, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (chat_id, message_id) DO NOTHING",
        (
            chat_id,
            message_id,
            "confirmed" if confirmed else "cancelled",
            admin_id,
            now(),
            ask.order_id if ask else None,
            ask.amount if ask else None,
            ask.idempotency_key if ask else None,
        ),
    )
    return changed.rowcount == 1


UNSETTLED = (
    "SELECT chat_id, message_id, order_id, amount, idempotency_key, answered_by"
    " FROM refund_questions WHERE idempotency_key IS NOT NULL AND settled IS NULL"
)


async def unsettled(db: Reads) -> list[RefundAsk]:
    """Confirmed refunds whose answer from Stripe was never recorded, oldest first."""
    rows = await db.rows(UNSETTLED + " ORDER BY answered_at", ())
    return [RefundAsk(*row) for row in rows]


async def unsettled_ask(db: Reads, chat_id: int, message_id: int) -> RefundAsk | None:
    """The question's refund, if it was confirmed and Stripe's answer was never recorded."""
    rows = await db.rows(UNSETTLED + " AND chat_id = ? AND message_id = ?", (chat_id, message_id))
    return RefundAsk(*rows[0]) if rows else None


async def settle_ask(db: Writes, ask: RefundAsk, *, made: bool) -> None:
    """Record that Stripe made the question's refund, or that it was not made."""
    await db.execute(
        "UPDATE refund_questions SET settled = ? WHERE chat_id = ? AND message_id = ?",
        ("made" if made else "not_made", ask.chat_id, ask.message_id),
    )


async def claim_ask(
    db: Writes, chat_id: int, message_id: int, now: float, until: float
) -> RefundClaim:
    """The question's unsettled refund is the caller's to ask of Stripe until `until`, unless a
    claim on any question of its order has not run out at `now`; one writer at a time, so two
    claims on one order cannot both win."""
    changed = await db.execute(
        "UPDATE refund_questions SET claimed_until = ? WHERE chat_id = ? AND message_id = ?"
        " AND idempotency_key IS NOT NULL AND settled IS NULL"
        " AND NOT EXISTS (SELECT 1 FROM refund_questions AS live"
        " WHERE live.order_id = refund_questions.order_id AND live.claimed_until > ?)",
        (until, chat_id, message_id, now),
    )
    if changed.rowcount == 1:
        return RefundClaim.MINE
    rows = await db.rows(
        "SELECT idempotency_key IS NOT NULL AND settled IS NULL, claimed_until > ?"
        " FROM refund_questions WHERE chat_id = ? AND message_id = ?",
        (now, chat_id, message_id),
    )
    return why_not_claimed(rows[0] if rows else None)


def why_not_claimed(row: Sequence[Any] | None) -> RefundClaim:
    """(open, claimed) of a question whose claim failed: what held it back."""
    if row is None or not row[0]:
        return RefundClaim.CLOSED
    return RefundClaim.TAKEN if row[1] else RefundClaim.ORDER_BUSY


async def release_ask(db: Writes, chat_id: int, message_id: int, until: float) -> None:
    """End the claim that runs until `until` (nothing if it ran out and another took it)."""
    await db.execute(
        "UPDATE refund_questions SET claimed_until = NULL"
        " WHERE chat_id = ? AND message_id = ? AND claimed_until = ?",
        (chat_id, message_id, until),
    )
