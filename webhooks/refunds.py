"""Refunds: what Stripe reports about money going back, applied to the order once per refund."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from storage import MessageKind, Order, Storage, Transaction
from storage.order_rules import (
    AWAITING_PAYMENT,
    MONEY_TAKEN,
    OrderStatus,
    paid_by_buyer,
    reported_amount,
)
from webhooks.delivery import queue_revocation
from webhooks.fulfilment import Outcome, order_id_of

log = logging.getLogger(__name__)

# `charge.refunded` carries the charge with its cumulative `amount_refunded`; the `refund.*`
# events carry one refund each. Either may come first, or alone, depending on the account's
# API version and webhook settings, so both are applied and the larger total wins.
CHARGE_EVENTS = frozenset({"charge.refunded"})
REFUND_EVENTS = frozenset({"refund.created", "refund.updated", "refund.failed"})

# A refund that ends so gave nothing back: Stripe returned its amount to the shop's balance.
UNDONE = frozenset({"failed", "canceled"})

# Given a PaymentIntent id, its metadata (asked of Stripe), or None when Stripe has none such.
MetadataOfPaymentIntent = Callable[[str], Awaitable[Mapping[str, Any] | None]]


class RefundLedger:
    """Applies refund events: an order's refunded total only grows, and each growth is told
    to the buyer (and the admins who want alerts) once."""

    def __init__(
        self,
        storage: Storage,
        *,
        admin_ids: frozenset[int],
        payment_intent_metadata: MetadataOfPaymentIntent,
        on_queued: Callable[[], None],
    ) -> None:
        self._storage = storage
        self._admin_ids = admin_ids
        self._payment_intent_metadata = payment_intent_metadata
        self._on_queued = on_queued

    async def apply_event(self, event_id: str, event_type: str, obj: Mapping[str, Any]) -> Outcome:
        """A `charge.refunded` or `refund.*` webhook event."""
        payment_intent = obj.get("payment_intent")
        if not isinstance(payment_intent, str):
            return Outcome.NOT_OURS
        async with self._storage.transaction() as tx:
            order = await tx.order_with_payment_intent(payment_intent)
            if order is None:
                outcome = None
            elif order.status not in MONEY_TAKEN:
                # A delayed payment refunded before we heard it succeeded: not yet applicable.
                return Outcome.NOT_YET
            elif not await tx.remember_event(event_id, event_type):
                return Outcome.DUPLICATE
            else:
                if event_type in CHARGE_EVENTS:
                    # Events come in any order: a charge written before a refund failed still
                    # counts that refund, which must not come back.
                    undone = await tx.undone_refunds(order.id)
                    reported = reported_amount(obj.get("amount_refunded")) - undone
                    outcome = await apply_refund(tx, order, reported, event_type, self._admin_ids)
                else:
                    refund_id, status = str(obj.get("id")), str(obj.get("status"))
                    earlier = await tx.refund_status(refund_id)
                    reported = await tx.record_refund(
                        refund_id, order.id, reported_amount(obj.get("amount")), status
                    )
                    if status in UNDONE and earlier not in UNDONE:
                        outcome = await _refund_undone(tx, order, obj, reported, self._admin_ids)
                    else:
                        outcome = await apply_refund(
                            tx, order, reported, event_type, self._admin_ids
                        )
                if event_type in REFUND_EVENTS and await self._tell_requester(tx, order, obj):
                    self._on_queued()
        if outcome is None:
            return await self._unknown_payment(payment_intent)
        if outcome in (Outcome.REFUNDED, Outcome.REFUND_UNDONE):
            self._on_queued()
        return outcome

    async def _tell_requester(
        self, tx: Transaction, order: Order, refund: Mapping[str, Any]
    ) -> bool:
        """The admin who asked for this refund with /refund hears when Stripe has made it,
        once, unless their sale alerts already say so."""
        metadata = refund.get("metadata")
        asked = metadata.get("requested_by") if isinstance(metadata, Mapping) else None
        if (
            not (isinstance(asked, str) and asked.isdecimal())
            or refund.get("status") != "succeeded"
        ):
            return False
        admin_id = int(asked)
        if admin_id not in self._admin_ids or await tx.alerts_enabled(admin_id):
            return False
        if not await tx.tell_requester_once(str(refund.get("id")), admin_id):
            return False
        amount = str(reported_amount(refund.get("amount")))
        await tx.enqueue(admin_id, MessageKind.ALERT_REFUNDED, order.id, detail=amount)
        return True

    async def _unknown_payment(self, payment_intent: str) -> Outcome:
        """A refund of a payment we have no order for: another integration's, or ours before
        its payment was recorded here (events arrive in any order), which Stripe must retry."""
        metadata = await self._payment_intent_metadata(payment_intent)
        order_id = order_id_of({"metadata": metadata}) if metadata is not None else None
        order = await self._storage.get_order(order_id) if order_id is not None else None
        # Another integration on the account may number its orders as we do: the order must
        # also be this buyer's, and still waiting for the payment this refund is of.
        if (
            order is None
            or metadata is None
            or metadata.get("telegram_user_id") != str(order.telegram_user_id)
            or order.status not in AWAITING_PAYMENT
            or order.payment_intent_id not in (None, payment_intent)
        ):
            return Outcome.NOT_OURS
        log.warning(
            "refund of order %s arrived before its payment; asking Stripe to retry", order_id
        )
        return Outcome.NOT_YET


async def apply_refund(
    tx: Transaction, order: Order, reported: int, source: str, admin_ids: frozenset[int]
) -> Outcome:
    """Raise the order's refunded total to what Stripe reports, if that is more."""
    if reported <= order.amount_refunded:
        return Outcome.UNCHANGED
    fully = reported >= paid_by_buyer(order)
    target = OrderStatus.REFUNDED if fully else OrderStatus.PARTIALLY_REFUNDED
    await tx.set_amount_refunded(order.id, reported)
    if target is not order.status:
        await tx.advance(order, target, source=source)
    this_refund = str(reported - order.amount_refunded)
    await tx.enqueue(order.chat_id, MessageKind.REFUNDED, order.id, detail=this_refund)
    if fully and order.status is not OrderStatus.REFUNDED:
        await queue_revocation(tx, order)
    await tx.enqueue_alerts(MessageKind.ALERT_REFUNDED, order.id, admin_ids, detail=this_refund)
    log.info("order %s: %s refunded in all (%s)", order.id, reported, source)
    return Outcome.REFUNDED


async def _refund_undone(
    tx: Transaction,
    order: Order,
    refund: Mapping[str, Any],
    others: int,
    admin_ids: frozenset[int],
) -> Outcome:
    """A refund that failed or was canceled: its amount leaves the refunded total, and every
    admin is told, since the buyer must now be paid back some other way.

    `others` is what the order's other refunds that succeeded come to: a refund we never
    counted (its failure is the first we hear of it) cannot take them away.
    """
    total = max(others, order.amount_refunded - reported_amount(refund.get("amount")))
    reason = refund.get("failure_reason") or refund.get("status")
    flag = f"refund {refund.get('id')} {refund.get('status')} ({reason})"
    # Order states only move forward: the status keeps saying a refund was made,
    # while the amount and the flag say what came of it.
    await tx.set_amount_refunded(order.id, min(total, order.amount_refunded))
    await tx.flag_order(order.id, flag)
    log.error("order %s: %s; refund the buyer another way", order.id, flag)
    for admin_id in sorted(admin_ids):
        await tx.enqueue(admin_id, MessageKind.ALERT_FLAGGED, order.id, detail=flag)
    return Outcome.REFUND_UNDONE
