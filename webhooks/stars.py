"""Payments in Telegram Stars: the pre-checkout check, the payment applied once by its charge
id, and a refund recorded like Stripe's.

The bot's handlers do the Telegram I/O (answering the query, reading the message, calling
refundStarPayment) and hand the facts here; this side only reads and writes the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum

from storage import MessageKind, Order, OrderFacts, Storage, Transaction
from storage.order_rules import MONEY_KEPT, OrderStatus
from webhooks.delivery import queue_delivery
from webhooks.fulfilment import Outcome
from webhooks.refunds import apply_refund

log = logging.getLogger(__name__)

STARS = "xtr"


class Refusal(StrEnum):
    """Why a pre-checkout query is answered no; the buyer is told in their words."""

    UNKNOWN = "unknown"  # no such order of this buyer's (an old or forged invoice)
    CLOSED = "closed"  # the order is no longer waiting for this payment (replaced, expired)
    CHANGED = "changed"  # the invoice's amount or currency is not the order's
    SOLD_OUT = "sold_out"  # its units, or its key pool's codes, are gone


class StarPayments:
    """Applies what Telegram says about payments in Stars, safely as often as it is told."""

    def __init__(
        self, storage: Storage, *, admin_ids: frozenset[int], on_queued: Callable[[], None]
    ) -> None:
        self._storage = storage
        self._admin_ids = admin_ids
        self._on_queued = on_queued

    async def refusal(
        self, order_id: int | None, user_id: int, currency: str, total: int
    ) -> Refusal | None:
        """Why the buyer may not pay this invoice now; None: they may, and the order holds its
        units (or codes) again for the payment that follows, taken in the store's transaction
        (its hold from its creation may have run out). A refusal changes nothing stored."""
        if order_id is None:
            return Refusal.UNKNOWN
        async with self._storage.transaction() as tx:
            order = await tx.get_order(order_id)
            if order is None or order.telegram_user_id != user_id:
                return Refusal.UNKNOWN
            if order.status is not OrderStatus.PENDING:
                return Refusal.CLOSED
            if currency.lower() != order.currency or total != order.amount_total:
                return Refusal.CHANGED
            if not await tx.hold_units(order.id):
                return Refusal.SOLD_OUT
        return None

    async def take_payment(
        self, order_id: int | None, charge_id: str, user_id: int, currency: str, total: int
    ) -> Refusal | None:
        """A successful_payment: recorded once by its charge id, the order paid, its goods
        and messages queued, all in one transaction. Why the charge must go back to the buyer,
        if it must: CLOSED, the order was closed (a newer invoice replaced it) or paid by
        another form after the bot said yes; SOLD_OUT, its units went to another order
        meanwhile (the order fails). None: the order took it, or it was taken before, or it
        names no order of this buyer's (left for the owner)."""
        if order_id is None:
            log.error("Star payment %s names no order of ours; refund it by hand", charge_id)
            return None
        async with self._storage.transaction() as tx:
            order = await tx.get_order(order_id)
            if order is None or order.telegram_user_id != user_id:
                log.error("Star payment %s names order %s, not this buyer's", charge_id, order_id)
                return None
            if not await tx.record_star_payment(charge_id, order.id, user_id, total):
                kept = await tx.star_payment_of(order.id)
                if kept is None or kept.charge_id == charge_id:
                    return None
                # Two payment forms of one invoice, both let through while the order waited:
                # the order keeps the first, the second goes back.
                second = f"a second Star payment ({total} XTR) for an order paid already"
                await self._alert(tx, order, f"{second}: the bot gives it back")
                refusal: Refusal | None = Refusal.CLOSED
            else:
                refusal = await self._pay(tx, order, currency, total)
        self._on_queued()
        return refusal

    async def _pay(
        self, tx: Transaction, order: Order, currency: str, total: int
    ) -> Refusal | None:
        """The order paid by a payment just recorded, its goods and messages queued; else why
        the payment goes back, the owner told."""
        if order.status is OrderStatus.PENDING and not await tx.hold_units(order.id):
            # Its hold ran out between the bot's yes and Telegram's charge, and another order
            # took the units: nothing could be delivered, so the Stars go back.
            facts = OrderFacts(failure_reason="sold out before its payment arrived")
            await tx.advance(order, OrderStatus.FAILED, source="stars", facts=facts)
            gone = f"paid {total} XTR in Stars after its units were gone"
            await tx.flag_order(order.id, gone)
            await self._alert(tx, order, f"{gone}: the bot gives it back")
            return Refusal.SOLD_OUT
        flag = _mismatch(order, currency, total)
        facts = OrderFacts(amount_received=total if flag is None else None, flag=flag)
        if not await tx.advance(order, OrderStatus.PAID, source="stars", facts=facts):
            flag = f"paid {total} XTR in Stars while the order was {order.status.value}"
            await tx.flag_order(order.id, flag)
            await self._alert(tx, order, flag)
            return Refusal.CLOSED
        if order.from_cart:
            # What was paid for leaves the cart with the payment; anything added since stays.
            await tx.take_from_cart(order.telegram_user_id, order.lines)
        if not await queue_delivery(tx, order, self._admin_ids):
            await tx.enqueue(order.chat_id, MessageKind.PAYMENT_RECEIVED, order.id)
        await tx.enqueue_alerts(MessageKind.ALERT_PAID, order.id, self._admin_ids)
        if flag is not None:
            await self._alert(tx, order, flag)
        return None

    async def given_back(self, charge_id: str) -> None:
        """refundStarPayment gave back a payment its order could not take."""
        async with self._storage.transaction() as tx:
            await tx.mark_star_refunded(charge_id)
        log.info("Star payment %s given back: its order could not take it", charge_id)

    async def apply_refund(self, order: Order, *, charge_id: str | None = None) -> Outcome:
        """refundStarPayment succeeded for the order (for its charge `charge_id`, when
        Telegram's note names it): recorded once, like a Stripe refund (the order refunded, the
        buyer told, access taken back)."""
        async with self._storage.transaction() as tx:
            payment = await tx.star_payment_of(order.id)
            if payment is not None and charge_id not in (None, payment.charge_id):
                log.info("Star refund of %s: not order %s's payment", charge_id, order.id)
                return Outcome.UNCHANGED
            fresh = await tx.get_order(order.id)
            if payment is None or fresh is None or fresh.status not in MONEY_KEPT:
                return Outcome.UNCHANGED
            if not await tx.mark_star_refunded(payment.charge_id):
                return Outcome.DUPLICATE
            outcome = await apply_refund(
                tx, fresh, payment.amount, "refundStarPayment", self._admin_ids
            )
        self._on_queued()
        return outcome

    async def _alert(self, tx: Transaction, order: Order, flag: str) -> None:
        log.error("order %s: %s", order.id, flag)
        for admin_id in sorted(self._admin_ids):
            await tx.enqueue(admin_id, MessageKind.ALERT_FLAGGED, order.id, detail=flag)


def _mismatch(order: Order, currency: str, total: int) -> str | None:
    if currency.lower() == order.currency == STARS and total == order.amount_total:
        return None
    return f"paid {total} {currency} for an order of {order.amount_total} {order.currency}"
