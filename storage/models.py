"""What is stored: orders and their history, and messages waiting in the outbox (the order
statuses and their rules are in storage/order_rules.py)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from storage.order_rules import OrderStatus


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One product of an order, as it was sold: its title in the buyer's language and its
    unit price at that moment, whatever the catalog says later."""

    product_id: str
    title: str
    unit_amount: int
    quantity: int

    @property
    def amount(self) -> int:
        return self.unit_amount * self.quantity


@dataclass(frozen=True, slots=True)
class NewOrder:
    """A buyer's Buy tap or cart checkout, before it becomes a stored pending order."""

    telegram_user_id: int
    chat_id: int
    buyer_name: str
    buyer_username: str | None
    language: str | None
    currency: str
    # One or more, each product once.
    lines: tuple[OrderLine, ...]
    # Made from the buyer's cart (one open link per buyer), rather than a product's Buy.
    from_cart: bool = False

    @property
    def amount_total(self) -> int:
        return sum(line.amount for line in self.lines)


@dataclass(frozen=True, slots=True)
class Order:
    id: int
    telegram_user_id: int
    chat_id: int
    buyer_name: str
    buyer_username: str | None
    language: str | None
    # What was sold, one line per product, in the order they were added.
    lines: tuple[OrderLine, ...]
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
    from_cart: bool = False

    @property
    def units(self) -> int:
        """Units of every line together."""
        return sum(line.quantity for line in self.lines)


@dataclass(frozen=True, slots=True)
class CartLine:
    """A product in a buyer's cart, with the unit price it had when it was added (the
    checkout charges the catalog's price of the moment, and says when the two differ)."""

    product_id: str
    quantity: int
    unit_amount: int
    currency: str


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
    DELIVERY = "delivery"  # what a digital product gives, once paid; again from /orders
    ACCESS_REVOKED = "access_revoked"  # a refund took back an invite link (and the member)
    # To admins who turned alerts on, and to all admins for a flagged order
    ALERT_PAID = "alert_paid"
    ALERT_REFUNDED = "alert_refunded"
    ALERT_FAILED = "alert_failed"
    ALERT_FLAGGED = "alert_flagged"
    # To every admin: a condition the guardian found, or its end (the text is in `detail`)
    HEALTH_ALERT = "health_alert"


# The `detail` of a DELIVERY row is the product whose goods it sends; queued with the payment,
# it starts with this, and its message also confirms the payment ("Send again" rows do not).
DELIVERY_ON_PAYMENT = "paid:"


def delivery_detail(product_id: str, *, on_payment: bool) -> str:
    """A DELIVERY row's `detail`."""
    return f"{DELIVERY_ON_PAYMENT}{product_id}" if on_payment else product_id


def delivery_of(detail: str | None) -> tuple[str, bool]:
    """The product a DELIVERY row's `detail` names, and whether it comes with the payment."""
    text = detail or ""
    return text.removeprefix(DELIVERY_ON_PAYMENT), text.startswith(DELIVERY_ON_PAYMENT)


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    id: int
    chat_id: int
    kind: MessageKind
    order_id: int | None
    attempts: int
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    """The messages still waiting to be sent (neither sent nor given up)."""

    waiting: int
    # Unix seconds; None when nothing waits.
    oldest_queued_at: int | None


@dataclass(frozen=True, slots=True)
class CurrencyFigures:
    """Orders paid in a period in one currency: what they brought in and what went back."""

    currency: str
    orders: int
    gross: int
    # Refunded so far on the orders paid in the period, whenever the refund was made.
    refunded: int
    refunded_orders: int

    @property
    def net(self) -> int:
        return self.gross - self.refunded

    @property
    def average(self) -> int:
        """Gross per order, rounded half up to the minor unit."""
        return (2 * self.gross + self.orders) // (2 * self.orders) if self.orders else 0


@dataclass(frozen=True, slots=True)
class ProductRevenue:
    """One product's paid orders in one currency over a period."""

    currency: str
    product_id: str
    title: str
    orders: int
    quantity: int
    revenue: int


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """Everything /stats reports for one period."""

    currencies: tuple[CurrencyFigures, ...]
    # The best sellers by revenue, at most a few per currency, best first.
    top_products: tuple[ProductRevenue, ...]
    # Orders created in the period that got a Checkout link, and how many of those were paid.
    links_created: int
    links_paid: int
    # Buyers with a paid order in the period: first paid order in it, or paid before it too.
    new_buyers: int
    returning_buyers: int


@dataclass(frozen=True, slots=True)
class SpanSales:
    """Paid orders and revenue in one currency during one span of time (an index into the spans
    asked for: a chart's day, week or month)."""

    span: int
    currency: str
    orders: int
    revenue: int


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """What is stored with an order's move to a new status, as Stripe told it; a field left
    None keeps what is stored."""

    payment_intent_id: str | None = None
    # What the buyer paid and what promotion codes took off, in the order's currency.
    amount_received: int | None = None
    amount_discount: int | None = None
    # Why the owner should look at the order (a payment that does not match it).
    flag: str | None = None
    failure_reason: str | None = None


@dataclass(frozen=True, slots=True)
class RefundAsk:
    """A confirmed refund question: what it asks of Stripe, with the key Stripe knows it by."""

    chat_id: int
    message_id: int
    order_id: int
    amount: int
    idempotency_key: str
    admin_id: int


class RefundClaim(StrEnum):
    """What came of claiming a confirmed refund, to ask Stripe for it."""

    MINE = "mine"
    # Another holder is asking Stripe for this question's refund.
    TAKEN = "taken"
    # Another question's refund of the same order is on its way to Stripe: one at a time per
    # order, so that what is left is checked after the other is recorded.
    ORDER_BUSY = "order_busy"
    # Nothing to ask: not a confirmed question, or its refund is settled.
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class StarPayment:
    """A payment in Telegram Stars, recorded once by Telegram's charge id."""

    charge_id: str
    order_id: int
    telegram_user_id: int
    amount: int
    paid_at: int
    refunded_at: int | None


@dataclass(frozen=True, slots=True)
class InviteLink:
    """The one-person invite link made for an order, and whether a refund revoked it."""

    order_id: int
    chat_id: int
    invite_link: str
    revoked_at: int | None
