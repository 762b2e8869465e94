"""Payments in Telegram Stars: the pre-checkout check, the payment applied once by its charge
id, and a refund recorded like Stripe's.

The bot's handlers do the Telegram I/O (answering the query, reading the message, calling
refundStarPayment) and hand the facts here; this side only reads and writes the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from enum import StrEnum

from storage import MessageKind, Order, OrderFacts, Storage, Transaction
from storage.order_rules import MONEY_KEPT, OrderStatus, units_by_product
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
        self,
        order_id: int | None,
        user_id: int,
        currency: str,
        total: int,
        *,
        key_pools: Collection[str],
    ) -> Refusal | None:
        """Why the buyer may not pay this invoice now; None: they may. `key_pools`: the
        products that deliver codes from a pool, which must still hold the order's."""
        order = await self._storage.get_order(order_id) if order_id is not None else None
        if order is None or order.telegram_user_id != user_id:
            return Refusal.UNKNOWN
        if order.status is not OrderStatus.PENDING:
            return Refusal.CLOSED
        if currency.lower() != order.currency or total != order.amount_total:
            return Refusal.CHANGED
        goods = units_by_product(order)
        left = await self._storage.stock_left([product for product, _ in goods], replacing=order.id)
        for product_id, units in goods:
            if product_id in left and left[product_id] < units:
                return Refusal.SOLD_OUT
            if product_id in key_pools and await self._storage.free_keys(product_id) < units:
                return Refusal.SOLD_OUT
        return None

    async def apply_payment(
        self, order_id: int | None, charge_id: str, user_id: int, currency: str, total: int
    ) -> Outcome:
        """A successful_payment: recorded once by its charge id, the order paid, its goods
        and messages queued, all in one transaction."""
        if order_id is None:
            log.error("Star payment %s names no order of ours; refund it by hand", charge_id)
            return Outcome.NOT_OURS
        async with self._storage.transaction() as tx:
            order = await tx.get_order(order_id)
            if order is None or order.telegram_user_id != user_id:
                log.error("Star payment %s names order %s, not this buyer's", charge_id, order_id)
                return Outcome.NOT_OURS
            if not await tx.record_star_payment(charge_id, order.id, user_id, total):
                return Outcome.DUPLICATE
            flag = _mismatch(order, currency, total)
            facts = OrderFacts(amount_received=total if flag is None else None, flag=flag)
            if not await tx.advance(order, OrderStatus.PAID, source="stars", facts=facts):
                flag = f"paid {total} XTR in Stars while the order was {order.status.value}"
                await tx.flag_order(order.id, flag)
                await self._alert(tx, order, flag)
                return Outcome.UNCHANGED
            if order.from_cart:
                # What was paid for leaves the cart with the payment; anything added since stays.
                await tx.take_from_cart(order.telegram_user_id, order.lines)
            if not await queue_delivery(tx, order, self._admin_ids):
                await tx.enqueue(order.chat_id, MessageKind.PAYMENT_RECEIVED, order.id)
            await tx.enqueue_alerts(MessageKind.ALERT_PAID, order.id, self._admin_ids)
            if flag is not None:
                await self._alert(tx, order, flag)
        self._on_queued()
        return Outcome.PAID

    async def apply_refund(self, order: Order) -> Outcome:
        """refundStarPayment succeeded for the order: recorded once, like a Stripe refund (the
        order refunded, the buyer told, access taken back)."""
        async with self._storage.transaction() as tx:
            payment = await tx.star_payment_of(order.id)
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
