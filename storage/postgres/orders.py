"""Orders: a buyer's pending order, its Checkout link, its moves along the state diagram (each
one in its history), and the queries that find orders."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from storage.models import NewOrder, Order, OrderFacts, StatusChange
from storage.order_rules import OrderStatus
from storage.postgres.rows import ORDER_COLUMNS, order_from
from storage.postgres.statements import Reads, Writes, now


async def get(db: Reads, order_id: int) -> Order | None:
    return await _one(db, "id = $1", order_id)


async def get_for_update(db: Writes, order_id: int) -> Order | None:
    """The order, locked until the transaction ends: what a transaction reads of an order no
    other one changes before it commits (SQLite gives that by running one writer at a time)."""
    return await _one(db, "id = $1 FOR UPDATE", order_id)


async def with_payment_intent_for_update(db: Writes, payment_intent_id: str) -> Order | None:
    """The order a PaymentIntent paid, locked until the transaction ends."""
    return await _one(
        db, "payment_intent_id = $1 ORDER BY id LIMIT 1 FOR UPDATE", payment_intent_id
    )


async def open_link_for(
    db: Reads, telegram_user_id: int, product_id: str, valid_after: int
) -> Order | None:
    """The buyer's newest pending order for a product whose link is still valid then."""
    return await _one(
        db,
        "telegram_user_id = $1 AND product_id = $2 AND from_cart = 0 AND status = $3 AND"
        " checkout_url IS NOT NULL AND checkout_expires_at > $4 AND retired_at IS NULL"
        " ORDER BY id DESC LIMIT 1",
        telegram_user_id,
        product_id,
        OrderStatus.PENDING.value,
        valid_after,
    )


async def open_cart_link_for(db: Reads, telegram_user_id: int, valid_after: int) -> Order | None:
    """The buyer's newest pending order made from their cart whose link is still valid then."""
    return await _one(
        db,
        "telegram_user_id = $1 AND from_cart = 1 AND status = $2 AND checkout_url IS NOT NULL"
        " AND checkout_expires_at > $3 AND retired_at IS NULL ORDER BY id DESC LIMIT 1",
        telegram_user_id,
        OrderStatus.PENDING.value,
        valid_after,
    )


async def waiting(db: Reads, updated_before: int, limit: int) -> list[Order]:
    """Pending and processing orders with a session, untouched after `updated_before`, not
    retired; those reconciliation looked at longest ago first."""
    rows = await db.rows(
        f"SELECT {ORDER_COLUMNS} FROM orders WHERE status IN ($1, $2)"
        " AND checkout_session_id IS NOT NULL AND retired_at IS NULL AND updated_at <= $3"
        " ORDER BY check_turn, id LIMIT $4",
        OrderStatus.PENDING.value,
        OrderStatus.PROCESSING.value,
        updated_before,
        limit,
    )
    return [order_from(row) for row in rows]


async def take_turn(db: Writes, order_ids: Sequence[int]) -> None:
    """Send these orders to the back of reconciliation's queue: they were looked at last."""
    await db.execute(
        "UPDATE orders SET check_turn = (SELECT max(check_turn) + 1 FROM orders)"
        " WHERE id = ANY($1::bigint[])",
        list(order_ids),
    )


async def retire(db: Writes, order_id: int, reason: str) -> bool:
    """Take a waiting order out of the waiting set, flagged with why; False if it was."""
    changed = await db.execute(
        "UPDATE orders SET retired_at = $1, flag = $2 WHERE id = $3 AND retired_at IS NULL",
        now(),
        reason,
        order_id,
    )
    return changed == 1


async def without_session(db: Reads, created_before: int, now: int) -> list[Order]:
    """Pending orders created before then that never got a Checkout Session, and hold no
    units at `now` (a Stars order's yes to a pre-checkout holds them, its charge on the way)."""
    rows = await db.rows(
        f"SELECT {ORDER_COLUMNS} FROM orders WHERE status = $1"
        " AND checkout_session_id IS NULL AND created_at < $2"
        " AND (held_until IS NULL OR held_until <= $3)",
        OrderStatus.PENDING.value,
        created_before,
        now,
    )
    return [order_from(row) for row in rows]


async def of_buyer(db: Reads, telegram_user_id: int, limit: int) -> list[Order]:
    """The buyer's latest orders, newest first."""
    rows = await db.rows(
        f"SELECT {ORDER_COLUMNS} FROM orders WHERE telegram_user_id = $1"
        " ORDER BY created_at DESC, id DESC LIMIT $2",
        telegram_user_id,
        limit,
    )
    return [order_from(row) for row in rows]


async def history(db: Reads, order_id: int) -> list[StatusChange]:
    """The statuses an order took, oldest first."""
    rows = await db.rows(
        "SELECT status, at, source FROM order_history WHERE order_id = $1 ORDER BY id", order_id
    )
    return [StatusChange(OrderStatus(row["status"]), row["at"], row["source"]) for row in rows]


async def insert(db: Writes, new: NewOrder) -> int:
    """Store a pending order and its lines; returns its id."""
    at = now()
    first = new.lines[0]
    rows = await db.rows(
        "INSERT INTO orders (telegram_user_id, chat_id, buyer_name, buyer_username,"
        " language, product_id, product_title, quantity, unit_amount, amount_total,"
        " currency, status, created_at, updated_at, from_cart)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        " RETURNING id",
        new.telegram_user_id,
        new.chat_id,
        new.buyer_name,
        new.buyer_username,
        new.language,
        first.product_id,
        first.title,
        sum(line.quantity for line in new.lines),
        first.unit_amount,
        new.amount_total,
        new.currency,
        OrderStatus.PENDING.value,
        at,
        at,
        int(new.from_cart),
    )
    order_id: int = rows[0]["id"]
    await db.executemany(
        "INSERT INTO order_lines (order_id, line_no, product_id, title, unit_amount, quantity)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        [
            (order_id, number, line.product_id, line.title, line.unit_amount, line.quantity)
            for number, line in enumerate(new.lines, start=1)
        ],
    )
    await _record_status(db, order_id, OrderStatus.PENDING, at, "tap")
    return order_id


async def advance(
    db: Writes, order: Order, target: OrderStatus, *, source: str, facts: OrderFacts | None
) -> bool:
    """Move `order` to `target` if the state diagram allows it from its stored status, and
    store the facts given with it.

    The status it moves from is checked in the UPDATE itself: of two transactions racing on the
    same order, the second waits for the first's row lock, then finds the status changed and
    moves nothing. The move and its line of history are one statement (one round trip): the
    history row is inserted only for an order the UPDATE moved. Returns whether this call
    moved it.
    """
    if not order.status.can_move_to(target):
        return False
    at = now()
    fields: dict[str, object] = {"status": target.value, "updated_at": at}
    if target is OrderStatus.PAID:
        fields["paid_at"] = at
    if facts is not None:
        # Column names are OrderFacts' own fields, never a caller's words.
        given = ((name, getattr(facts, name)) for name in OrderFacts.__slots__)
        fields.update((name, value) for name, value in given if value is not None)
    assignments = ", ".join(f"{name} = ${index}" for index, name in enumerate(fields, start=1))
    count = len(fields)
    # $1 is the new status and $2 the time (the first two fields), for the history too.
    changed = await db.execute(
        f"WITH moved AS (UPDATE orders SET {assignments}"
        f" WHERE id = ${count + 1} AND status = ${count + 2} RETURNING id)"
        " INSERT INTO order_history (order_id, status, at, source)"
        f" SELECT id, $1, $2, ${count + 3} FROM moved",
        *fields.values(),
        order.id,
        order.status.value,
        source,
    )
    return changed == 1


async def attach_checkout(
    db: Writes, order_id: int, session_id: str, url: str, expires_at: int
) -> None:
    """Remember the Checkout Session made for a pending order."""
    await db.execute(
        "UPDATE orders SET checkout_session_id = $1, checkout_url = $2,"
        " checkout_expires_at = $3, updated_at = $4 WHERE id = $5",
        session_id,
        url,
        expires_at,
        now(),
        order_id,
    )


async def set_checkout_session(db: Writes, order_id: int, session_id: str) -> None:
    """Store the Checkout Session Stripe made for the order, when the process stopped before
    it could."""
    await db.execute(
        "UPDATE orders SET checkout_session_id = $1, updated_at = $2 WHERE id = $3",
        session_id,
        now(),
        order_id,
    )


async def set_pay_message(db: Writes, order_id: int, message_id: int) -> None:
    """Remember the chat message holding the order's pay button (edited when it expires)."""
    await db.execute(
        "UPDATE orders SET pay_message_id = $1, updated_at = $2 WHERE id = $3",
        message_id,
        now(),
        order_id,
    )


async def set_amount_refunded(db: Writes, order_id: int, amount: int) -> None:
    await db.execute(
        "UPDATE orders SET amount_refunded = $1, updated_at = $2 WHERE id = $3",
        amount,
        now(),
        order_id,
    )


async def set_flag(db: Writes, order_id: int, flag: str) -> None:
    """Say why the owner should look at the order (a refund that failed)."""
    await db.execute(
        "UPDATE orders SET flag = $1, updated_at = $2 WHERE id = $3", flag, now(), order_id
    )


async def _record_status(
    db: Writes, order_id: int, status: OrderStatus, at: int, source: str
) -> None:
    await db.execute(
        "INSERT INTO order_history (order_id, status, at, source) VALUES ($1, $2, $3, $4)",
        order_id,
        status.value,
        at,
        source,
    )


async def _one(db: Reads, where: str, *parameters: Any) -> Order | None:
    rows = await db.rows(f"SELECT {ORDER_COLUMNS} FROM orders WHERE {where}", *parameters)
    return order_from(rows[0]) if rows else None
