"""Delivery of digital goods: queued in the outbox in the transaction that marks the order paid,
and access taken back in the one that records its full refund.

The codes of a key pool are taken here, in that same transaction, so a code belongs to one
paid order for good; what the buyer is sent (a code, a document, an invite link, a text) is
made when the outbox sends the message (bot/outbox/goods.py), exactly once per queued row.
"""

from __future__ import annotations

import logging

from storage import MessageKind, Order, Transaction, delivery_detail
from storage.order_rules import units_by_product

log = logging.getLogger(__name__)


async def queue_delivery(tx: Transaction, order: Order, admin_ids: frozenset[int]) -> bool:
    """Queue what each product of the order delivers, the first with the payment's
    confirmation (one message, the moment the buyer paid); False if none delivers anything
    (the confirmation is the caller's to queue then)."""
    confirmed = False
    for product_id, units in units_by_product(order):
        kind = await tx.digital_kind(product_id)
        if kind is None:
            continue
        if kind == "keys" and not await _take_keys(tx, order, product_id, units, admin_ids):
            continue
        detail = delivery_detail(product_id, on_payment=not confirmed)
        await tx.enqueue(order.chat_id, MessageKind.DELIVERY, order.id, detail=detail)
        confirmed = True
    return confirmed


async def _take_keys(
    tx: Transaction, order: Order, product_id: str, units: int, admin_ids: frozenset[int]
) -> bool:
    """Take a code per unit; False when there was none left at all."""
    codes = await tx.take_keys(order.id, product_id, units)
    if len(codes) < units:
        # The pool ran dry between the stock check and the payment (codes refunded orders
        # took never come back): the buyer gets what there was, the owner sees the rest.
        flag = f"key pool of {product_id} ran out: {len(codes)} of {units} codes delivered"
        await tx.flag_order(order.id, flag)
        log.error("order %s: %s; add codes and send the rest by hand", order.id, flag)
        for admin_id in sorted(admin_ids):
            await tx.enqueue(admin_id, MessageKind.ALERT_FLAGGED, order.id, detail=flag)
    return bool(codes)


async def queue_revocation(tx: Transaction, order: Order) -> bool:
    """A fully refunded order's invite links are revoked and its member removed (the outbox
    does it and tells the buyer); False when the order gave no such access."""
    kinds = [await tx.digital_kind(product_id) for product_id, _ in units_by_product(order)]
    if "invite" not in kinds and not await tx.invite_links_of(order.id):
        return False
    await tx.enqueue(order.chat_id, MessageKind.ACCESS_REVOKED, order.id)
    return True
