"""Stock: how many units of a product are left, counted from the number the owner last wrote
in the catalog and the orders that hold units (the rules are SQLite's: storage/sqlite/stock.py).

Race-safety: a new order takes the product's stock_levels row FOR UPDATE before it counts, so
buyers racing for the last unit count one after another, each seeing the orders committed
before it (READ COMMITTED takes a new snapshot per statement, after the lock is granted).
"""

from __future__ import annotations

from collections.abc import Mapping

from storage.order_rules import HOLDS_STOCK
from storage.postgres.statements import Reads, Writes, now
from storage.sqlite.stock import LINK_MAKING_SECONDS

_AGAINST_THE_NUMBER = "(o.id > s.after_order_id OR o.paid_at IS NULL OR o.paid_at >= s.recorded_at)"
_HOLDING = ", ".join(sorted(f"'{status.value}'" for status in HOLDS_STOCK))
# $1: now, $2: LINK_MAKING_SECONDS.
_HOLDS_STOCK = (
    f"(o.status IN ({_HOLDING}) OR (o.status = 'pending' AND o.retired_at IS NULL AND"
    " (o.checkout_session_id IS NOT NULL OR o.created_at > $1::bigint - $2::bigint)))"
)


async def record_catalog(db: Writes, levels: Mapping[str, int]) -> None:
    """The catalog's `stock` numbers (at start-up and on each reload): a changed number is
    what the owner has now; a product without one is unlimited."""
    await db.execute("DELETE FROM stock_levels WHERE product_id <> ALL($1::text[])", list(levels))
    await record_levels(db, levels, replace=True)


async def record_levels(db: Writes, levels: Mapping[str, int], *, replace: bool) -> None:
    """Record each number with the moment it was written; `replace` lets a changed number
    replace the recorded one, otherwise only a missing one is added."""
    at = now()
    rows = await db.rows("SELECT coalesce(max(id), 0) FROM orders")
    last_order_id = rows[0][0]
    on_conflict = (
        "DO UPDATE SET stock = excluded.stock, after_order_id = excluded.after_order_id,"
        " recorded_at = excluded.recorded_at WHERE stock_levels.stock <> excluded.stock"
        if replace
        else "DO NOTHING"
    )
    await db.executemany(
        "INSERT INTO stock_levels (product_id, stock, after_order_id, recorded_at)"
        f" VALUES ($1, $2, $3, $4) ON CONFLICT (product_id) {on_conflict}",
        [(product_id, stock, last_order_id, at) for product_id, stock in levels.items()],
    )


async def lock_level(db: Writes, product_id: str) -> None:
    """Hold the product's stock row until the transaction ends: whoever counts its units next
    waits, and then sees this transaction's order."""
    await db.rows("SELECT 1 FROM stock_levels WHERE product_id = $1 FOR UPDATE", product_id)


async def units_left(db: Reads, product_ids: list[str], replacing: int | None) -> dict[str, int]:
    """Units left of each product that has a recorded stock (others are unlimited), not
    counting the order `replacing` names."""
    if not product_ids:
        return {}
    rows = await db.rows(
        "SELECT s.product_id, s.stock - coalesce((SELECT sum(l.quantity) FROM order_lines l"
        " JOIN orders o ON o.id = l.order_id"
        f" WHERE l.product_id = s.product_id AND {_HOLDS_STOCK} AND {_AGAINST_THE_NUMBER}"
        " AND o.id IS DISTINCT FROM $3), 0)::bigint AS units"
        " FROM stock_levels s WHERE s.product_id = ANY($4::text[])",
        now(),
        LINK_MAKING_SECONDS,
        replacing,
        product_ids,
    )
    return {row["product_id"]: max(row["units"], 0) for row in rows}
