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
from storage.sqlite.stock import HOLD_SECONDS, LINK_MAKING_SECONDS

_AGAINST_THE_NUMBER = "(o.id > s.after_order_id OR o.paid_at IS NULL OR o.paid_at >= s.recorded_at)"
_HOLDING = ", ".join(sorted(f"'{status.value}'" for status in HOLDS_STOCK))
# $1: now, $2: LINK_MAKING_SECONDS.
_HOLDS_STOCK = (
    f"(o.status IN ({_HOLDING}) OR (o.status = 'pending' AND o.retired_at IS NULL AND"
    " (o.checkout_session_id IS NOT NULL OR o.created_at > $1::bigint - $2::bigint"
    " OR o.held_until > $1::bigint)))"
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


async def units_left(
    db: Reads, product_ids: list[str], replacing: int | None, now: int
) -> dict[str, int]:
    """Units left of each product that has a recorded stock (others are unlimited) at `now`,
    not counting the order `replacing` names."""
    if not product_ids:
        return {}
    rows = await db.rows(
        "SELECT s.product_id, s.stock - coalesce((SELECT sum(l.quantity) FROM order_lines l"
        " JOIN orders o ON o.id = l.order_id"
        f" WHERE l.product_id = s.product_id AND {_HOLDS_STOCK} AND {_AGAINST_THE_NUMBER}"
        " AND o.id IS DISTINCT FROM $3), 0)::bigint AS units"
        " FROM stock_levels s WHERE s.product_id = ANY($4::text[])",
        now,
        LINK_MAKING_SECONDS,
        replacing,
        product_ids,
    )
    left = {row["product_id"]: max(row["units"], 0) for row in rows}
    # A key pool's stock can say more than its codes: a refunded order gives its units back,
    # never its code. What can be sold is the fewer (the storefront and every new order
    # read this), or a buyer paying by card could pay for a code that is not there.
    for product_id, codes in (await codes_left(db, product_ids, replacing, now)).items():
        if product_id in left:
            left[product_id] = min(left[product_id], codes)
    return left


async def codes_left(
    db: Reads, product_ids: list[str], replacing: int | None, now: int
) -> dict[str, int]:
    """Codes of each key pool among the products that no order took, less those that orders
    being paid at `now` will take, not counting the order `replacing` names
    (storage/sqlite/stock.py says why and which)."""
    if not product_ids:
        return {}
    rows = await db.rows(
        "SELECT d.product_id, (SELECT count(*) FROM key_codes k"
        " WHERE k.product_id = d.product_id AND k.order_id IS NULL)"
        " - coalesce((SELECT sum(l.quantity) FROM order_lines l JOIN orders o ON o.id = l.order_id"
        " WHERE l.product_id = d.product_id AND o.id IS DISTINCT FROM $2 AND"
        " (o.status = 'processing' OR (o.status = 'pending' AND o.retired_at IS NULL"
        " AND (o.checkout_session_id IS NOT NULL OR o.held_until > $1::bigint)))), 0)::bigint"
        " AS codes FROM digital_products d"
        " WHERE d.kind = 'keys' AND d.product_id = ANY($3::text[])",
        now,
        replacing,
        product_ids,
    )
    return {row["product_id"]: max(row["codes"], 0) for row in rows}


async def hold(db: Writes, order_id: int, now: int) -> bool:
    """Hold the pending order's units for HOLD_SECONDS from `now`, if they are there without
    it (storage/sqlite/stock.py); False, changing nothing, when not. Each product's stock row
    is locked first, as a new order locks it, so replicas counting the same units count one
    after another."""
    wanted: dict[str, int] = {}
    for row in await db.rows(
        "SELECT product_id, quantity FROM order_lines WHERE order_id = $1", order_id
    ):
        wanted[row["product_id"]] = wanted.get(row["product_id"], 0) + row["quantity"]
    products = sorted(wanted)
    for product_id in products:
        await lock_level(db, product_id)
    left = await units_left(db, products, order_id, now)
    codes = await codes_left(db, products, order_id, now)
    for product_id, units in wanted.items():
        if left.get(product_id, units) < units or codes.get(product_id, units) < units:
            return False
    held = await db.rows(
        "UPDATE orders SET held_until = $1 WHERE id = $2 AND status = 'pending' RETURNING id",
        now + HOLD_SECONDS,
        order_id,
    )
    return bool(held)
