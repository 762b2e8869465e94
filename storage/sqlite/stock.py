"""Stock: how many units of a product are left, counted from the number the owner last wrote
in the catalog and the orders that hold units.

The functions run on the store's connection, inside its lock or transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from storage.order_rules import HOLDS_STOCK
from storage.sqlite.statements import Reads, Writes, now

# An order holds its units while it can still be paid, and once it is: a pending order with a
# link (or one still being made: its link is attached within seconds, and one left behind by a
# crash stops holding after LINK_MAKING_SECONDS), a processing one, and a paid one until it is
# fully refunded. Expired and failed orders hold nothing, which is how stock comes back.
# An invoice in Telegram Stars has no link to expire: it holds for LINK_MAKING_SECONDS from its
# creation, then again for HOLD_SECONDS from each pre-checkout query the bot says yes to
# (`held_until`, taken by `hold`, which first makes sure the units are still there).
# A pending order's link holds its units past its expiry time, until Stripe says the session
# expired (the order moves to expired): a payment made just before that time may have its
# webhook arrive after it, and the unit must still be there for it.
LINK_MAKING_SECONDS = 600
# How long a yes to a pre-checkout query holds the units: Telegram charges at once after it.
HOLD_SECONDS = 600
# The owner counted what was on the shelf when they wrote the number: what was paid before then
# had left it, while an order still waiting for its payment was on it and is taken from it.
_AGAINST_THE_NUMBER = "(o.id > s.after_order_id OR o.paid_at IS NULL OR o.paid_at >= s.recorded_at)"
_HOLDING = ", ".join(sorted(f"'{status.value}'" for status in HOLDS_STOCK))
_HOLDS_STOCK = (
    f"(o.status IN ({_HOLDING}) OR (o.status = 'pending' AND o.retired_at IS NULL AND"
    " (o.checkout_session_id IS NOT NULL OR o.created_at > :now - :making"
    " OR o.held_until > :now)))"
)


async def record_catalog(db: Writes, levels: Mapping[str, int]) -> None:
    """The catalog's `stock` numbers (at start-up and on each reload): a changed number is
    what the owner has now; a product without one is unlimited."""
    await db.execute(
        "DELETE FROM stock_levels WHERE product_id NOT IN (SELECT value FROM json_each(?))",
        (json.dumps(list(levels)),),
    )
    await record_levels(db, levels, replace=True)


async def record_levels(db: Writes, levels: Mapping[str, int], *, replace: bool) -> None:
    """Record each number with the moment it was written; `replace` lets a changed number
    replace the recorded one, otherwise only a missing one is added."""
    at = now()
    rows = await db.rows("SELECT coalesce(max(id), 0) FROM orders")
    last_order_id = rows[0][0]
    on_conflict = (
        "DO UPDATE SET stock = excluded.stock, after_order_id = excluded.after_order_id,"
        " recorded_at = excluded.recorded_at WHERE stock_levels.stock != excluded.stock"
        if replace
        else "DO NOTHING"
    )
    await db.executemany(
        "INSERT INTO stock_levels (product_id, stock, after_order_id, recorded_at)"
        f" VALUES (?, ?, ?, ?) ON CONFLICT (product_id) {on_conflict}",
        [(product_id, stock, last_order_id, at) for product_id, stock in levels.items()],
    )


async def units_left(
    db: Reads, product_ids: list[str], replacing: int | None, now: int
) -> dict[str, int]:
    """Units left of each product that has a recorded stock (others are unlimited) at `now`,
    not counting the order `replacing` names. It sums every order holding a product's units:
    in a transaction, run it off the event loop."""
    if not product_ids:
        return {}
    placeholders = ", ".join(f":p{index}" for index in range(len(product_ids)))
    rows = await db.rows(
        "SELECT s.product_id, s.stock - coalesce((SELECT sum(l.quantity) FROM order_lines l"
        " JOIN orders o ON o.id = l.order_id"
        f" WHERE l.product_id = s.product_id AND {_HOLDS_STOCK} AND {_AGAINST_THE_NUMBER}"
        " AND o.id IS NOT :replacing),"
        f" 0) AS left FROM stock_levels s WHERE s.product_id IN ({placeholders})",
        {
            "now": now,
            "making": LINK_MAKING_SECONDS,
            "replacing": replacing,
            **{f"p{index}": product_id for index, product_id in enumerate(product_ids)},
        },
    )
    left = {row["product_id"]: max(row["left"], 0) for row in rows}
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
    being paid at `now` will take, not counting the order `replacing` names. A pool's stock
    can say more: a refunded order holds no units, but the codes it took never come back.
    Being paid: processing, or waiting with a Checkout Session, or with a yes at pre-checkout
    (an invoice that was only sent asks first: counting it would let two such invoices each
    refuse the other)."""
    if not product_ids:
        return {}
    placeholders = ", ".join(f":p{index}" for index in range(len(product_ids)))
    rows = await db.rows(
        "SELECT d.product_id, (SELECT count(*) FROM key_codes k"
        " WHERE k.product_id = d.product_id AND k.order_id IS NULL)"
        " - coalesce((SELECT sum(l.quantity) FROM order_lines l JOIN orders o ON o.id = l.order_id"
        " WHERE l.product_id = d.product_id AND o.id IS NOT :replacing AND"
        " (o.status = 'processing' OR (o.status = 'pending' AND o.retired_at IS NULL"
        " AND (o.checkout_session_id IS NOT NULL OR o.held_until > :now)))), 0) AS left"
        f" FROM digital_products d WHERE d.kind = 'keys' AND d.product_id IN ({placeholders})",
        {
            "now": now,
            "replacing": replacing,
            **{f"p{index}": product_id for index, product_id in enumerate(product_ids)},
        },
    )
    return {row["product_id"]: max(row["left"], 0) for row in rows}


async def hold(db: Writes, order_id: int, now: int) -> bool:
    """Hold the pending order's units for HOLD_SECONDS from `now`, if they are there without
    it: as many left of each product with a stock, as many codes of each key pool. False,
    changing nothing, when they are not (or the order is not pending)."""
    wanted: dict[str, int] = {}
    for row in await db.rows(
        "SELECT product_id, quantity FROM order_lines WHERE order_id = ?", (order_id,)
    ):
        wanted[row["product_id"]] = wanted.get(row["product_id"], 0) + row["quantity"]
    products = list(wanted)
    left = await units_left(db.off_loop, products, order_id, now)
    codes = await codes_left(db.off_loop, products, order_id, now)
    for product_id, units in wanted.items():
        if left.get(product_id, units) < units or codes.get(product_id, units) < units:
            return False
    changed = await db.execute(
        "UPDATE orders SET held_until = ? WHERE id = ? AND status = 'pending'",
        (now + HOLD_SECONDS, order_id),
    )
    return changed.rowcount == 1
