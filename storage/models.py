"""What is stored: orders and their states, and messages waiting in the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"

    def can_move_to(self, target: OrderStatus) -> bool:
        """Whether DESIGN.md's state diagram has an edge from this status to `target`."""
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


@dataclass(frozen=True, slots=True)
class NewOrder:
    """A buyer's tap, before it becomes a stored pending order."""

    telegram_user_id: int
    chat_id: int
    buyer_name: str
    buyer_username: str | None
    language: str | None
    product_id: str
    product_title: str
    quantity: int
    unit_amount: int
    currency: str

    @property
    def amount_total(self) -> int:
        return self.unit_amount * self.quantity


@dataclass(frozen=True, slots=True)
class Order:
    id: int
    telegram_user_id: int
    chat_id: int
    buyer_name: str
    buyer_username: str | None
    language: str | None
    product_id: str
    product_title: str
    quantity: int
    unit_amount: int
    amount_total: int
    currency: str
    status: OrderStatus
    checkout_session_id: str | None
    checkout_url: str | None
    checkout_expires_at: int | None
    payment_intent_id: str | None
    amount_received: int | None
    failure_reason: str | None
    created_at: int
    updated_at: int
    paid_at: int | None
    amount_refunded: int
    pay_message_id: int | None
    flag: str | None
    amount_discount: int | None = None


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One step of an order's history: the status it took, when, and what moved it."""

    status: OrderStatus
    at: int
    source: str


class MessageKind(StrEnum):
    """What an outbox row asks the sender to say; the text is rendered when it is sent."""

    # To the buyer
    PAYMENT_RECEIVED = "payment_received"
    PAYMENT_PROCESSING = "payment_processing"
    PAYMENT_FAILED = "payment_failed"
    LINK_EXPIRED = "link_expired"  # edits the message that held the pay button
    REFUNDED = "refunded"
    # To admins who turned alerts on, and to all admins for a flagged order
    ALERT_PAID = "alert_paid"
    ALERT_REFUNDED = "alert_refunded"
    ALERT_FAILED = "alert_failed"
    ALERT_FLAGGED = "alert_flagged"


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: int
    chat_id: int
    kind: MessageKind
    order_id: int | None
    attempts: int
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class SalesLine:
    """Paid orders and their revenue in one currency over one period."""

    currency: str
    orders: int
    revenue: int
