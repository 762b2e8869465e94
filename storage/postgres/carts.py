"""Carts (the rules are SQLite's: storage/sqlite/carts.py), in PostgreSQL's words."""

from __future__ import annotations

from collections.abc import Sequence

from storage.models import CartLine, OrderLine
from storage.postgres.statements import Reads, Writes, now
from storage.sqlite.carts import CART_SECONDS


async def lines(db: Reads, telegram_user_id: int) -> list[CartLine]:
    """The buyer's cart, in the order its lines were added; empty when it is too old."""
    rows = await db.rows(
        "SELECT l.product_id, l.quantity, l.unit_amount, l.currency FROM cart_lines l"
        " JOIN carts c ON c.telegram_user_id = l.telegram_user_id"
        " WHERE l.telegram_user_id = $1 AND c.touched_at > $2 ORDER BY l.position",
        telegram_user_id,
        now() - CART_SECONDS,
    )
    return [CartLine(*row) for row in rows]


async def put(db: Writes, telegram_user_id: int, line: CartLine, *, new_cart: bool) -> bool:
    """Set the line's product at its quantity and price in the buyer's cart (after emptying it
    when `new_cart`); False, changing nothing, when the cart holds another currency."""
    await drop_stale(db)
    if new_cart:
        await empty(db, telegram_user_id)
    # The cart's row, locked: two taps of the buyer's on two replicas add one after the other.
    await _touch(db, telegram_user_id)
    rows = await db.rows(
        "SELECT count(*) FROM cart_lines WHERE telegram_user_id = $1 AND currency <> $2",
        telegram_user_id,
        line.currency,
    )
    if rows[0][0]:
        return False  # the touch above is harmless: the buyer did look at their cart
    await db.execute(
        "INSERT INTO cart_lines (telegram_user_id, product_id, quantity, unit_amount, currency,"
        " position) VALUES ($1, $2, $3, $4, $5, (SELECT coalesce(max(position), 0) + 1"
        " FROM cart_lines WHERE telegram_user_id = $1)) ON CONFLICT (telegram_user_id,"
        " product_id) DO UPDATE SET quantity = excluded.quantity,"
        " unit_amount = excluded.unit_amount",
        telegram_user_id,
        line.product_id,
        line.quantity,
        line.unit_amount,
        line.currency,
    )
    return True


async def set_quantity(db: Writes, telegram_user_id: int, product_id: str, quantity: int) -> None:
    """Change a line's quantity, keeping its price as added; 0 takes the line out."""
    if quantity > 0:
        changed = await db.execute(
            "UPDATE cart_lines SET quantity = $1 WHERE telegram_user_id = $2 AND product_id = $3",
            quantity,
            telegram_user_id,
            product_id,
        )
    else:
        changed = await db.execute(
            "DELETE FROM cart_lines WHERE telegram_user_id = $1 AND product_id = $2",
            telegram_user_id,
            product_id,
        )
    if changed:
        await _touch(db, telegram_user_id)


async def empty(db: Writes, telegram_user_id: int) -> None:
    await db.execute("DELETE FROM cart_lines WHERE telegram_user_id = $1", telegram_user_id)
    await db.execute("DELETE FROM carts WHERE telegram_user_id = $1", telegram_user_id)


async def take_paid(db: Writes, telegram_user_id: int, paid: Sequence[OrderLine]) -> None:
    """Take what an order paid for out of the buyer's cart: each line's paid units, and the
    line itself when nothing of it is left."""
    for line in paid:
        where = "WHERE telegram_user_id = $1 AND product_id = $2"
        await db.execute(
            f"DELETE FROM cart_lines {where} AND quantity <= $3",
            telegram_user_id,
            line.product_id,
            line.quantity,
        )
        await db.execute(
            f"UPDATE cart_lines SET quantity = quantity - $3 {where}",
            telegram_user_id,
            line.product_id,
            line.quantity,
        )


async def drop_stale(db: Writes) -> None:
    """Drop every cart untouched for CART_DAYS days."""
    stale = now() - CART_SECONDS
    await db.execute(
        "DELETE FROM cart_lines WHERE telegram_user_id IN"
        " (SELECT telegram_user_id FROM carts WHERE touched_at <= $1)",
        stale,
    )
    await db.execute("DELETE FROM carts WHERE touched_at <= $1", stale)


async def _touch(db: Writes, telegram_user_id: int) -> None:
    await db.execute(
        "INSERT INTO carts (telegram_user_id, touched_at) VALUES ($1, $2)"
        " ON CONFLICT (telegram_user_id) DO UPDATE SET touched_at = excluded.touched_at",
        telegram_user_id,
        now(),
    )
