"""The order rules every part of the shop shares: the statuses, the edges between them, the sets
of statuses the code asks about, and how order ids and amounts are read from outside data."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.models import Order


class OrderStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"

    def can_move_to(self, target: OrderStatus) -> bool:
        """Whether the state machine (docs/ARCHITECTURE.md) has an edge to `target`."""
        return target in _EDGES[self]


# Statuses only move forward, so a late or repeated event can never undo a later state.
_EDGES: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset(
        {OrderStatus.PAID, OrderStatus.PROCESSING, OrderStatus.FAILED, OrderStatus.EXPIRED}
    ),
    OrderStatus.PROCESSING: frozenset({OrderStatus.PAID, OrderStatus.FAILED}),
    OrderStatus.PAID: frozenset({OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED}),
    OrderStatus.PARTIALLY_REFUNDED: frozenset({OrderStatus.REFUNDED}),
    OrderStatus.FAILED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
    OrderStatus.REFUNDED: frozenset(),
}

# The payment may still be on its way: the buyer's return asks Stripe about it, and a refund that
# arrives first waits for it.
AWAITING_PAYMENT = frozenset({OrderStatus.PENDING, OrderStatus.PROCESSING})
# No payment made, none on its way: such an order can get a new link from /orders.
UNPAID = frozenset({OrderStatus.PENDING, OrderStatus.EXPIRED, OrderStatus.FAILED})
# Over without a payment: the buyer is told what became of it, with a button to buy again.
ENDED_UNPAID = frozenset({OrderStatus.FAILED, OrderStatus.EXPIRED})
# The money was taken at some point, whatever was refunded since: it counts in the figures, and
# Stripe's refund events apply to it (one arriving late for a refunded order too, rather than
# being sent back for Stripe to retry).
MONEY_TAKEN = frozenset({OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED})
# Paid, and not all of it given back: what /refund may still ask Stripe to refund. A refunded
# order has nothing left to refund by its status, even if a refund on it failed later (that one
# is flagged for the owner to settle another way).
MONEY_KEPT = frozenset({OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED})
# Holding units of stock whatever their link; a pending order holds them only while its link can
# still be paid (storage/stock.py).
HOLDS_STOCK = frozenset({OrderStatus.PROCESSING}) | MONEY_KEPT

# Order ids, amounts and times are SQLite integers, at most 2**63 - 1 (19 digits): 18 decimal
# digits always fit, and a longer number is none of ours (forged callback data, or another
# integration's metadata), which would overflow the column.
_MAX_DIGITS = 18


def parse_stored_int(text: object) -> int | None:
    """The number `text` writes in ASCII decimal digits, if an orders column can hold it."""
    # isdecimal() and isascii(), not isdigit(): int() refuses "²", which isdigit() takes.
    if isinstance(text, str) and text.isdecimal() and text.isascii() and len(text) <= _MAX_DIGITS:
        return int(text)
    return None


def parse_order_id(text: object) -> int | None:
    """The order id in a button's data or in Stripe metadata; None when it can name none."""
    return parse_stored_int(text)


def reported_amount(value: object) -> int:
    """An amount a Stripe object reports, in minor units; 0 when it reports none."""
    return value if isinstance(value, int) else 0


# The largest amount a store keeps: both backends store amounts as signed 64-bit integers.
MAX_AMOUNT = 2**63 - 1


def storable_amount(value: object) -> int | None:
    """An amount a Stripe object reports, if it is one an order can hold: a whole number of
    minor units from 0 to MAX_AMOUNT (not a float, not a bool); None otherwise."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_AMOUNT:
        return value
    return None


def paid_by_buyer(order: Order) -> int:
    """What the buyer paid (less than the order's total when a promotion code took some off)."""
    return order.amount_received if order.amount_received is not None else order.amount_total


def units_by_product(order: Order) -> list[tuple[str, int]]:
    """Each product of the order with its units, in the order's own order."""
    return [(line.product_id, line.quantity) for line in order.lines]
