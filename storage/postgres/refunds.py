"""Refunds as Stripe reports them, and the answers to the admins' refund questions."""

from __future__ import annotations

from storage.postgres.statements import Reads, Writes, now


async def record(db: Writes, refund_id: str, order_id: int, amount: int, status: str) -> int:
    """Store a refund as Stripe last reported it; returns the order's succeeded total.

    A failed or canceled refund stays so: an older event saying it succeeded may come after.
    """
    await db.execute(
        "INSERT INTO refunds (id, order_id, amount, status, created_at)"
        " VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (id) DO UPDATE SET amount = excluded.amount, status = CASE"
        " WHEN refunds.status IN ('failed', 'canceled') THEN refunds.status"
        " ELSE excluded.status END",
        refund_id,
        order_id,
        amount,
        status,
        now(),
    )
    rows = await db.rows(
        "SELECT coalesce(sum(amount), 0)::bigint FROM refunds WHERE order_id = $1 AND status = $2",
        order_id,
        "succeeded",
    )
    return int(rows[0][0])


async def undone(db: Reads, order_id: int) -> int:
    """What the order's failed and canceled refunds came to: money that went back to the
    shop's balance, which an older charge figure may still count as refunded."""
    rows = await db.rows(
        "SELECT coalesce(sum(amount), 0)::bigint FROM refunds"
        " WHERE order_id = $1 AND status IN ('failed', 'canceled')",
        order_id,
    )
    return int(rows[0][0])


async def asked(db: Reads, order_id: int) -> int:
    """The refunds of an order Stripe made or is making (failed and canceled ones aside)."""
    rows = await db.rows(
        "SELECT coalesce(sum(amount), 0)::bigint FROM refunds WHERE order_id = $1"
        " AND status NOT IN ('failed', 'canceled')",
        order_id,
    )
    return int(rows[0][0])


async def status(db: Reads, refund_id: str) -> str | None:
    """The status last stored for a refund; None before any event about it."""
    rows = await db.rows("SELECT status FROM refunds WHERE id = $1", refund_id)
    return str(rows[0][0]) if rows else None


async def tell_requester_once(db: Writes, refund_id: str, admin_id: int) -> bool:
    """Note that the admin who asked for a refund is being told of it; False if they were."""
    changed = await db.execute(
        "UPDATE refunds SET requested_by = $1, requester_told = 1"
        " WHERE id = $2 AND requester_told = 0",
        admin_id,
        refund_id,
    )
    return changed == 1


async def answer_question(
    db: Writes, chat_id: int, message_id: int, *, confirmed: bool, admin_id: int
) -> bool:
    """Record the first answer to the refund question in message `message_id` of the chat;
    False when it was answered before (a stale button on a second device, a Cancel after a
    Confirm), durably: a restart does not open it again."""
    changed = await db.execute(
        "INSERT INTO refund_questions (chat_id, message_id, answer, answered_by, answered_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (chat_id, message_id) DO NOTHING",
        chat_id,
        message_id,
        "confirmed" if confirmed else "cancelled",
        admin_id,
        now(),
    )
    return changed == 1
