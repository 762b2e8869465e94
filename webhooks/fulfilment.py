"""Fulfilment: the one idempotent step that applies what Stripe says about a Checkout Session."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

from storage import MessageKind, Order, OrderFacts, Storage, Transaction
from storage.order_rules import OrderStatus, parse_order_id, reported_amount, storable_amount
from webhooks.delivery import queue_delivery

log = logging.getLogger(__name__)

PAID_STATES = ("paid", "no_payment_required")


class Outcome(StrEnum):
    """What applying one piece of news from Stripe did; the webhook answers it as `result`."""

    PAID = "paid"  # the order became paid now, and the buyer's confirmation is queued
    PROCESSING = "processing"  # completed, but the money is still on its way
    FAILED = "failed"  # a delayed payment failed
    EXPIRED = "expired"  # the link expired unpaid
    REFUNDED = "refunded"  # more of the order was refunded
    REFUND_UNDONE = "refund_undone"  # a refund failed or was canceled: the admins are told
    DUPLICATE = "duplicate"  # this event was applied before
    UNCHANGED = "unchanged"  # the order is already past this point
    NOT_OURS = "not_ours"  # a session or payment this bot did not make
    NOT_YET = "not_yet"  # ours, but the order is not ready for it yet: Stripe should retry


# What each Checkout Session event means for its order.
SESSION_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
    }
)

# The message the buyer gets when their order reaches a status, and the admins' alert.
_BUYER_MESSAGES = {
    OrderStatus.PAID: MessageKind.PAYMENT_RECEIVED,
    OrderStatus.PROCESSING: MessageKind.PAYMENT_PROCESSING,
    OrderStatus.FAILED: MessageKind.PAYMENT_FAILED,
}
_ALERTS = {OrderStatus.PAID: MessageKind.ALERT_PAID, OrderStatus.FAILED: MessageKind.ALERT_FAILED}
_OUTCOMES = {
    OrderStatus.PAID: Outcome.PAID,
    OrderStatus.PROCESSING: Outcome.PROCESSING,
    OrderStatus.FAILED: Outcome.FAILED,
    OrderStatus.EXPIRED: Outcome.EXPIRED,
}


# Nothing to store with a move (frozen: one instance serves every call).
_NO_FACTS = OrderFacts()


def order_id_of(obj: Mapping[str, Any]) -> int | None:
    """The order a Stripe object was made for, from the metadata this bot puts on it."""
    metadata = obj.get("metadata") or {}
    return parse_order_id(metadata.get("order_id")) if isinstance(metadata, Mapping) else None


def target_for_event(event_type: str, session: Mapping[str, Any]) -> OrderStatus:
    """The status a Checkout Session event asks for."""
    if event_type == "checkout.session.expired":
        return OrderStatus.EXPIRED
    if event_type == "checkout.session.async_payment_failed":
        return OrderStatus.FAILED
    if event_type == "checkout.session.async_payment_succeeded":
        return OrderStatus.PAID
    paid = session.get("payment_status") in PAID_STATES
    return OrderStatus.PAID if paid else OrderStatus.PROCESSING


def target_for_session(
    session: Mapping[str, Any], payment_intent_status: str | None = None
) -> OrderStatus | None:
    """The status a session read back from Stripe shows; None while it is still open.

    A failed delayed payment leaves the session complete and unpaid, as a processing one is;
    only its PaymentIntent, back to needing a payment method, tells the two apart.
    """
    status = session.get("status")
    if status == "expired":
        return OrderStatus.EXPIRED
    if status != "complete":
        return None
    if session.get("payment_status") in PAID_STATES:
        return OrderStatus.PAID
    if payment_intent_status in ("requires_payment_method", "canceled"):
        return OrderStatus.FAILED
    return OrderStatus.PROCESSING


class Fulfilment:
    """Applies what Stripe says about Checkout Sessions, safely as often as it is told.

    Called by the webhook, by reconciliation and by the buyer's return from Stripe. Any number
    of calls, concurrent or repeated, in any order, move an order once per step and queue one
    message per step: event ids are unique in the store, and an order moves only along the
    state diagram's edges, checked in the same transaction that queues the message.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        admin_ids: frozenset[int],
        on_queued: Callable[[], None],
    ) -> None:
        self._storage = storage
        self._admin_ids = admin_ids
        self._on_queued = on_queued

    async def apply_event(
        self, event_id: str, event_type: str, session: Mapping[str, Any]
    ) -> Outcome:
        """A `checkout.session.*` webhook event; `event_id` de-duplicates deliveries."""
        return await self._apply(
            session, target_for_event(event_type, session), source=event_type, event_id=event_id
        )

    async def apply_session(
        self,
        session: Mapping[str, Any],
        *,
        source: str,
        payment_intent_status: str | None = None,
    ) -> Outcome:
        """A session as read back from Stripe (reconciliation, the buyer's return)."""
        target = target_for_session(session, payment_intent_status)
        if target is None:
            return Outcome.UNCHANGED
        return await self._apply(session, target, source=source, event_id=None)

    async def _apply(
        self,
        session: Mapping[str, Any],
        target: OrderStatus,
        *,
        source: str,
        event_id: str | None,
    ) -> Outcome:
        order_id = order_id_of(session)
        if order_id is None:
            log.info("ignoring Checkout Session %s: not made by this bot", session.get("id"))
            return Outcome.NOT_OURS
        async with self._storage.transaction() as tx:
            order = await tx.get_order(order_id)
            if order is None or not _belongs_to(order, session):
                log.warning(
                    "ignoring Checkout Session %s: it names order %s, which is not its order",
                    session.get("id"),
                    order_id,
                )
                return Outcome.NOT_OURS
            if event_id is not None and not await tx.remember_event(event_id, source):
                return Outcome.DUPLICATE
            if order.checkout_session_id is None:
                # The process stopped between Stripe making the session and us storing it.
                await tx.set_checkout_session(order.id, session["id"])
            moved = await self._move(tx, order, target, session, source)
        if not moved:
            return Outcome.UNCHANGED
        # DEBUG: at a flash sale's rate an INFO line per event costs a tenth of the webhook's
        # time, and order_history (shown by /order) keeps the same facts.
        log.debug("order %s is %s (%s)", order.id, target, source)
        self._on_queued()
        return _OUTCOMES[target]

    async def _move(
        self,
        tx: Transaction,
        order: Order,
        target: OrderStatus,
        session: Mapping[str, Any],
        source: str,
    ) -> bool:
        facts = _NO_FACTS
        flag = None
        if target is OrderStatus.PAID:
            flag = _mismatch(order, session)
            # An amount in another currency than the order's would be summed into the order's
            # currency by the figures: they count the order's own amount then, and the flag
            # tells the owner what was really taken.
            same_currency = session.get("currency") == order.currency
            facts = OrderFacts(
                payment_intent_id=_payment_intent_id(session),
                # An amount no order can hold (a float, beyond 64 bits) is flagged, not stored.
                amount_received=storable_amount(session.get("amount_total"))
                if same_currency
                else None,
                amount_discount=_discount(session) if same_currency else None,
                flag=flag,
            )
        elif target is OrderStatus.PROCESSING:
            facts = OrderFacts(payment_intent_id=_payment_intent_id(session))
        elif target is OrderStatus.FAILED:
            facts = OrderFacts(failure_reason="the delayed payment failed")
        if not await tx.advance(order, target, source=source, facts=facts):
            return False
        if target is OrderStatus.PAID and order.from_cart:
            # What was paid for leaves the cart with the payment; anything added since stays.
            await tx.take_from_cart(order.telegram_user_id, order.lines)
        delivered = target is OrderStatus.PAID and await queue_delivery(tx, order, self._admin_ids)
        if (kind := _BUYER_MESSAGES.get(target)) is not None and not delivered:
            await tx.enqueue(order.chat_id, kind, order.id)
        if target is OrderStatus.EXPIRED and order.pay_message_id is not None:
            await tx.enqueue(order.chat_id, MessageKind.LINK_EXPIRED, order.id)
        if (alert := _ALERTS.get(target)) is not None and self._admin_ids:
            # No ADMIN_IDS, no one to alert: spare the statement that finds who wants alerts.
            await tx.enqueue_alerts(alert, order.id, self._admin_ids)
        if flag is not None:
            log.error("order %s: %s; check it in the Stripe dashboard", order.id, flag)
            for admin_id in sorted(self._admin_ids):
                await tx.enqueue(admin_id, MessageKind.ALERT_FLAGGED, order.id, detail=flag)
        return True


def _belongs_to(order: Order, session: Mapping[str, Any]) -> bool:
    """Whether the session is the order's own: its stored one, or, when none was stored, one
    made for this order and this buyer (metadata and client_reference_id both match)."""
    if order.checkout_session_id is not None:
        return order.checkout_session_id == session.get("id")
    return session.get("client_reference_id") == str(order.telegram_user_id)


def _payment_intent_id(session: Mapping[str, Any]) -> str | None:
    value = session.get("payment_intent")
    if isinstance(value, Mapping):  # expanded
        value = value.get("id")
    return value if isinstance(value, str) else None


def _mismatch(order: Order, session: Mapping[str, Any]) -> str | None:
    """Why the payment does not match the order, if it does not: the money was taken either
    way, so the order is paid, and the owner looks into the difference.

    The line items must add up to the order (`amount_subtotal`), and the total must be that
    less the promotion codes' discount plus tax and shipping, which Stripe may add.
    """
    currency, total = session.get("currency"), session.get("amount_total")
    subtotal = session.get("amount_subtotal")
    if not isinstance(subtotal, int):  # a session shape without the breakdown
        subtotal, expected_total = total, total
    else:
        details = session.get("total_details")
        details = details if isinstance(details, Mapping) else {}
        added = sum(reported_amount(details.get(key)) for key in ("amount_tax", "amount_shipping"))
        expected_total = subtotal - reported_amount(details.get("amount_discount")) + added
    storable = None not in (storable_amount(total), storable_amount(subtotal))
    if (
        storable
        and currency == order.currency
        and subtotal == order.amount_total
        and total == expected_total
    ):
        return None
    return (
        f"paid {total} {currency} (items {subtotal}, minor units)"
        f" for an order of {order.amount_total} {order.currency}"
    )


def _discount(session: Mapping[str, Any]) -> int | None:
    """What promotion codes took off, in minor units; None when Stripe did not say."""
    details = session.get("total_details")
    return storable_amount(details.get("amount_discount") if isinstance(details, Mapping) else None)
