"""Delivery of digital goods: queued in the outbox in the transaction that marks the order paid,
and access taken back in the one that records its full refund.

The codes of a key pool are taken here, in that same transaction, so a code belongs to one
paid order for good; what the buyer is sent (a code, a document, an invite link, a text) is
made when the outbox sends the message (bot/outbox/goods.py), exactly once per queued row.
"""

from __future__ import annotations

import logging

from storage import DELIVERY_ON_PAYMENT, MessageKind, Order, Transaction

log = logging.getLogger(__name__)


async def queue_delivery(tx: Transaction, order: Order, admin_ids: frozenset[int]) -> bool:
    """Queue what the order's product delivers with the payment's confirmation (one message,
    the moment the buyer paid), if it delivers anything; False if not (the confirmation is
    the caller's to queue then)."""
    kind = await tx.digital_kind(order.product_id)
    if kind is None:
        return False
    if kind == "keys":
        codes = await tx.take_keys(order.id, order.product_id, order.quantity)
        if len(codes) < order.quantity:
            # The pool ran dry between the stock check and the payment (codes refunded orders
            # took never come back): the buyer gets what there was, the owner sees the rest.
            flag = f"key pool ran out: {len(codes)} of {order.quantity} codes delivered"
            await tx.flag_order(order.id, flag)
            log.error("order %s: %s; add codes and send the rest by hand", order.id, flag)
            for admin_id in sorted(admin_ids):
                await tx.enqueue(admin_id, MessageKind.ALERT_FLAGGED, order.id, detail=flag)
            if not codes:
                return False
    await tx.enqueue(order.chat_id, MessageKind.DELIVERY, order.id, detail=DELIVERY_ON_PAYMENT)
    return True


async def queue_revocation(tx: Transaction, order: Order) -> bool:
    """A fully refunded order's invite link is revoked and its member removed (the outbox
    does it and tells the buyer); False when the order gave no such access."""
    gave_access = await tx.digital_kind(order.product_id) == "invite"
    if not gave_access and not await tx.invite_links_of(order.id):
        return False
    await tx.enqueue(order.chat_id, MessageKind.ACCESS_REVOKED, order.id)
    return True
