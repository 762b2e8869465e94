"""Orders: a buyer's pending order, its Checkout link, its moves along the state diagram (each
one in its history), and the queries that find orders."""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from functools import cache
from typing import Any

from storage.models import NewOrder, Order, OrderFacts, StatusChange
from storage.order_rules import OrderStatus
from storage.sqlite.rows import ORDER_COLUMNS, order_from
from storage.sqlite.statements import Reads, Writes, now

# orders_waiting's own condition (migration 0011), word for word.
_WAITING_STATUSES = f"'{OrderStatus.PENDING.value}', '{OrderStatus.PROCESSING.value}'"


def get(db: Reads, order_id: int) -> Coroutine[Any, Any, Order | None]:
    return _one(db, "id = ?", (order_id,))


async def with_payment_intent(db: Reads, payment_intent_id: str) -> Order | None:
    return await _one(db, "payment_intent_id = ?", (payment_intent_id,))


async def open_link_for(
    db: Reads, telegram_user_id: int, product_id: str, valid_after: int
) -> Order | None:
    """The buyer's newest pending order for a product whose link is still valid then."""
    # The unary + keeps SQLite to the buyer's few orders (orders_by_buyer) rather than every
    # pending order of the shop (orders_by_status).
    return await _one(
        db,
        "telegram_user_id = ? AND product_id = ? AND from_cart = 0 AND +status = ? AND"
        " checkout_url IS NOT NULL AND checkout_expires_at > ? AND retired_at IS NULL"
        " ORDER BY id DESC LIMIT 1",
        (telegram_user_id, product_id, OrderStatus.PENDING.value, valid_after),
    )


async def open_cart_link_for(db: Reads, telegram_user_id: int, valid_after: int) -> Order | None:
    """The buyer's newest pending order made from their cart whose link is still valid then."""
    return await _one(
        db,
        "telegram_user_id = ? AND from_cart = 1 AND status = ? AND checkout_url IS NOT NULL"
        " AND checkout_expires_at > ? AND retired_at IS NULL ORDER BY id DESC LIMIT 1",
        (telegram_user_id, OrderStatus.PENDING.value, valid_after),
    )


async def waiting(db: Reads, updated_before: int, limit: int) -> list[Order]:
    """Pending and processing orders with a session, untouched after `updated_before`, not
    retired; those reconciliation looked at longest ago first."""
    # Read in orders_waiting's order, a batch at a time. Without INDEXED BY, SQLite picked
    # orders_by_status and sorted every waiting order at each run: it cannot tell that a
    # partial index fits bound parameters, hence the statuses written out.
    rows = await db.rows(
        f"SELECT {ORDER_COLUMNS} FROM orders INDEXED BY orders_waiting"
        f" WHERE status IN ({_WAITING_STATUSES})"
        " AND checkout_session_id IS NOT NULL AND retired_at IS NULL AND updated_at <= ?"
        " ORDER BY check_turn, id LIMIT ?",
        (updated_before, limit),
    )
    return [order_from(row) for row in rows]


async def take_turn(db: Writes, order_ids: Sequence[int]) -> None:
    """Send these orders to the back of reconciliation's queue: they were looked at last."""
    if not order_ids:
        return
    placeholders = ", ".join("?" for _ in order_ids)
    await db.execute(
        "UPDATE orders SET check_turn = (SELECT max(check_turn) + 1 FROM orders)"
        f" WHERE id IN ({placeholders})",
        tuple(order_ids),
    )


async def retire(db: Writes, order_id: int, reason: str) -> bool:
    """Take a waiting order out of the waiting set, flagged with why; False if it was."""
    changed = await db.execute(
        "UPDATE orders SET retired_at = ?, flag = ? WHERE id = ? AND retired_at IS NULL",
        (now(), reason, order_id),
    )
    return changed.rowcount == 1


async def without_session(db: Reads, created_before: int, now: int) -> list[Order]:
    """Pending orders created before then that never got a Checkout Session, and hold no
    units at `now` (a Stars order's yes to a pre-checkout holds them, its charge on the way)."""
    rows = await db.rows(
        f"SELECT {ORDER_COLUMNS} FROM orders WHERE status = ?"
        " AND checkout_session_id IS NULL AND created_at < ?"
        " AND (held_until IS NULL OR held_until <= ?)",
        (OrderStatus.PENDING.value, created_before, now),
    )
    return [order_from(row) for row in rows]


async def of_buyer(db: Reads, telegram_user_id: int, limit: int) -> list[Order]:
    """The buyer's latest orders, newest first."""
    rows = await db.rows(
        f"SELECT {ORDER_COLUMNS} FROM orders WHERE telegram_user_id = ?"
        " ORDER BY created_at DESC, id DESC LIMIT ?",
        (telegram_user_id, limit),
    )
    return [order_from(row) for row in rows]


async def history(db: Reads, order_id: int) -> list[StatusChange]:
    """The statuses an order took, oldest first."""
    rows = await db.rows(
        "SELECT status, at, source FROM order_history WHERE order_id = ? ORDER BY id",
        (order_id,),
    )
    return [StatusChange(OrderStatus(row["status"]), row["at"], row["source"]) for row in rows]


async def insert(db: Writes, new: NewOrder) -> int:
    """Store a pending order and its lines; returns its id."""
    at = now()
    first = new.lines[0]
    changed = await db.execute(
        "INSERT INTO orders (telegram_user_id, chat_id, buyer_name, buyer_username,"
        " language, product_id, product_title, quantity, unit_amount, amount_total,"
        " currency, status, created_at, updated_at, from_cart)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
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
        ),
    )
    order_id = changed.lastrowid
    assert order_id is not None
    await db.executemany(
        "INSERT INTO order_lines (order_id, line_no, product_id, title, unit_amount, quantity)"
        " VALUES (?, ?, ?, ?, ?, ?)",
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

    The status it moves from is checked in the UPDATE itself, so two fulfilments racing on
    the same order cannot both move it. `source` says what moved it, for the order's
    history. Returns whether this call moved it.
    """
    if not order.status.can_move_to(target):
        return False
    at = now()
    fields: dict[str, object] = {"status": target.value, "updated_at": at}
    if target is OrderStatus.PAID:
        fields["paid_at"] = at
    if facts is not None:
        # Column names are OrderFacts' own fields, never a caller's words.
        for name in OrderFacts.__slots__:
            if (value := getattr(facts, name)) is not None:
                fields[name] = value
    changed = await db.execute(
        _update_of(tuple(fields)), (*fields.values(), order.id, order.status.value)
    )
    if changed.rowcount != 1:
        return False
    await _record_status(db, order.id, target, at, source)
    return True


@cache
def _update_of(columns: tuple[str, ...]) -> str:
    """The UPDATE that advance() runs to set these columns (a handful of shapes)."""
    assignments = ", ".join(f"{name} = ?" for name in columns)
    return f"UPDATE orders SET {assignments} WHERE id = ? AND status = ?"


async def attach_checkout(
    db: Writes, order_id: int, session_id: str, url: str, expires_at: int
) -> None:
    """Remember the Checkout Session made for a pending order."""
    await db.execute(
        "UPDATE orders SET checkout_session_id = ?, checkout_url = ?,"
        " checkout_expires_at = ?, updated_at = ? WHERE id = ?",
        (session_id, url, expires_at, now(), order_id),
    )


async def set_checkout_session(db: Writes, order_id: int, session_id: str) -> None:
    """Store the Checkout Session Stripe made for the order, when the process stopped before
    it could."""
    await db.execute(
        "UPDATE orders SET checkout_session_id = ?, updated_at = ? WHERE id = ?",
        (session_id, now(), order_id),
    )


async def set_pay_message(db: Writes, order_id: int, message_id: int) -> None:
    """Remember the chat message holding the order's pay button (edited when it expires)."""
    await db.execute(
        "UPDATE orders SET pay_message_id = ?, updated_at = ? WHERE id = ?",
        (message_id, now(), order_id),
    )


async def set_amount_refunded(db: Writes, order_id: int, amount: int) -> None:
    await db.execute(
        "UPDATE orders SET amount_refunded = ?, updated_at = ? WHERE id = ?",
        (amount, now(), order_id),
    )


async def set_flag(db: Writes, order_id: int, flag: str) -> None:
    """Say why the owner should look at the order (a refund that failed)."""
    await db.execute(
        "UPDATE orders SET flag = ?, updated_at = ? WHERE id = ?", (flag, now(), order_id)
    )


async def _record_status(
    db: Writes, order_id: int, status: OrderStatus, at: int, source: str
) -> None:
    await db.execute(
        "INSERT INTO order_history (order_id, status, at, source) VALUES (?, ?, ?, ?)",
        (order_id, status.value, at, source),
    )


async def _one(db: Reads, where: str, parameters: Sequence[object]) -> Order | None:
    rows = await db.rows(f"SELECT {ORDER_COLUMNS} FROM orders WHERE {where}", parameters)
    return order_from(rows[0]) if rows else None
