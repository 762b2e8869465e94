"""Fulfilment: the one idempotent step that turns a paid Checkout Session into a paid order."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

from storage import MessageKind, Order, OrderStatus, SQLiteStorage

log = logging.getLogger(__name__)

PAID_STATES = ("paid", "no_payment_required")


class Outcome(StrEnum):
    PAID = "paid"  # the order became paid now, and the buyer's confirmation is queued
    DUPLICATE = "duplicate"  # this event was applied before
    UNCHANGED = "unchanged"  # the order is already past this point (or not paid yet)
    NOT_OURS = "not_ours"  # a session this bot did not create


def order_id_of(session: Mapping[str, Any]) -> int | None:
    """The order a Checkout Session was made for, from the metadata this bot puts on it."""
    metadata = session.get("metadata") or {}
    value = metadata.get("order_id") if isinstance(metadata, Mapping) else None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


class Fulfilment:
    """Applies what Stripe says about a Checkout Session, safely as often as it is told.

    Called by the webhook, and by every other path that learns of a payment. Any number of
    calls, concurrent or repeated, in any order, pay an order once and queue one confirmation:
    event ids are unique in the store, and an order moves only along the state diagram's edges,
    checked in the same transaction.
    """

    def __init__(self, storage: SQLiteStorage, on_queued: Callable[[], None]) -> None:
        self._storage = storage
        self._on_queued = on_queued

    async def fulfil_checkout(
        self,
        session: Mapping[str, Any],
        *,
        event_id: str | None = None,
        event_type: str = "checkout.session.completed",
    ) -> Outcome:
        """Record the session's payment on its order; `event_id` de-duplicates deliveries."""
        order_id = order_id_of(session)
        if order_id is None:
            log.info("ignoring Checkout Session %s: not made by this bot", session.get("id"))
            return Outcome.NOT_OURS
        async with self._storage.transaction() as tx:
            order = await tx.get_order(order_id)
            if order is None or order.checkout_session_id != session.get("id"):
                log.warning(
                    "ignoring Checkout Session %s: it names order %s, which is not its order",
                    session.get("id"),
                    order_id,
                )
                return Outcome.NOT_OURS
            if event_id is not None and not await tx.remember_event(event_id, event_type):
                return Outcome.DUPLICATE
            if session.get("payment_status") not in PAID_STATES:
                return Outcome.UNCHANGED
            _warn_on_mismatch(order, session)
            paid_now = await tx.advance(
                order,
                OrderStatus.PAID,
                source=event_type if event_id is not None else "reconciliation",
                payment_intent_id=_payment_intent_id(session),
                amount_received=session.get("amount_total"),
            )
            if paid_now:
                await tx.enqueue(order.chat_id, MessageKind.PAYMENT_RECEIVED, order.id)
        if not paid_now:
            return Outcome.UNCHANGED
        log.info("order %s paid (Checkout Session %s)", order.id, session.get("id"))
        self._on_queued()
        return Outcome.PAID


def _payment_intent_id(session: Mapping[str, Any]) -> str | None:
    value = session.get("payment_intent")
    if isinstance(value, Mapping):  # expanded
        value = value.get("id")
    return value if isinstance(value, str) else None


def _warn_on_mismatch(order: Order, session: Mapping[str, Any]) -> None:
    """The money was taken either way; a different amount is for the owner to look into."""
    amount, currency = session.get("amount_total"), session.get("currency")
    if amount != order.amount_total or currency != order.currency:
        log.error(
            "order %s was paid %s %s but costs %s %s: check it in the Stripe dashboard",
            order.id,
            amount,
            currency,
            order.amount_total,
            order.currency,
        )
