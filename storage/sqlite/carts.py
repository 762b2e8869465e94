"""Carts: what each buyer put aside to check out together, one currency per cart, dropped when
untouched for CART_DAYS days."""

from __future__ import annotations

from collections.abc import Sequence

from storage.models import CartLine, OrderLine
from storage.sqlite.statements import Reads, Writes, now

# A cart nobody touched for this long is dropped: its prices and the buyer's intent are stale.
CART_DAYS = 30
CART_SECONDS = CART_DAYS * 24 * 60 * 60


async def lines(db: Reads, telegram_user_id: int) -> list[CartLine]:
    """The buyer's cart, in the order its lines were added; empty when it is too old."""
    rows = await db.rows(
        "SELECT l.product_id, l.quantity, l.unit_amount, l.currency FROM cart_lines l"
        " JOIN carts c ON c.telegram_user_id = l.telegram_user_id"
        " WHERE l.telegram_user_id = ? AND c.touched_at > ? ORDER BY l.position",
        (telegram_user_id, now() - CART_SECONDS),
    )
    return [CartLine(*row) for row in rows]


async def put(db: Writes, telegram_user_id: int, line: CartLine, *, new_cart: bool) -> bool:
    """Set the line's product at its quantity and price in the buyer's cart (after emptying it
    when `new_cart`); False, changing nothing, when the cart holds another currency."""
    await drop_stale(db)
    if new_cart:
        await empty(db, telegram_user_id)
    rows = await db.rows(
        "SELECT count(*) FROM cart_lines WHERE telegram_user_id = ? AND currency != ?",
        (telegram_user_id, line.currency),
    )
    if rows[0][0]:
        return False
    await _touch(db, telegram_user_id)
    await db.execute(
        "INSERT INTO cart_lines (telegram_user_id, product_id, quantity, unit_amount, currency,"
        " position) VALUES (?, ?, ?, ?, ?, (SELECT coalesce(max(position), 0) + 1"
        " FROM cart_lines WHERE telegram_user_id = ?)) ON CONFLICT (telegram_user_id,"
        " product_id) DO UPDATE SET quantity = excluded.quantity,"
        " unit_amount = excluded.unit_amount",
        (
            telegram_user_id,
            line.product_id,
            line.quantity,
            line.unit_amount,
            line.currency,
            telegram_user_id,
        ),
    )
    return True


async def set_quantity(db: Writes, telegram_user_id: int, product_id: str, quantity: int) -> None:
    """Change a line's quantity, keeping its price as added; 0 takes the line out."""
    if quantity > 0:
        changed = await db.execute(
            "UPDATE cart_lines SET quantity = ? WHERE telegram_user_id = ? AND product_id = ?",
            (quantity, telegram_user_id, product_id),
        )
    else:
        changed = await db.execute(
            "DELETE FROM cart_lines WHERE telegram_user_id = ? AND product_id = ?",
            (telegram_user_id, product_id),
        )
    if changed.rowcount:
        await _touch(db, telegram_user_id)


async def empty(db: Writes, telegram_user_id: int) -> None:
    await db.execute("DELETE FROM cart_lines WHERE telegram_user_id = ?", (telegram_user_id,))
    await db.execute("DELETE FROM carts WHERE telegram_user_id = ?", (telegram_user_id,))


async def take_paid(db: Writes, telegram_user_id: int, paid: Sequence[OrderLine]) -> None:
    """Take what an order paid for out of the buyer's cart: each line's paid units, and the
    line itself when nothing of it is left."""
    for line in paid:
        where = "WHERE telegram_user_id = ? AND product_id = ?"
        await db.execute(
            f"DELETE FROM cart_lines {where} AND quantity <= ?",
            (telegram_user_id, line.product_id, line.quantity),
        )
        await db.execute(
            f"UPDATE cart_lines SET quantity = quantity - ? {where}",
            (line.quantity, telegram_user_id, line.product_id),
        )


async def drop_stale(db: Writes) -> None:
    """Drop every cart untouched for CART_DAYS days."""
    stale = now() - CART_SECONDS
    await db.execute(
        "DELETE FROM cart_lines WHERE telegram_user_id IN"
        " (SELECT telegram_user_id FROM carts WHERE touched_at <= ?)",
        (stale,),
    )
    await db.execute("DELETE FROM carts WHERE touched_at <= ?", (stale,))


async def _touch(db: Writes, telegram_user_id: int) -> None:
    await db.execute(
        "INSERT INTO carts (telegram_user_id, touched_at) VALUES (?, ?)"
        " ON CONFLICT (telegram_user_id) DO UPDATE SET touched_at = excluded.touched_at",
        (telegram_user_id, now()),
    )
