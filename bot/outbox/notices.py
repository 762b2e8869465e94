"""What each queued outbox message says, rendered from its order as it is when it is sent."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from telegram import InlineKeyboardMarkup, InputFile, Message

from bot.admin import texts as admin_texts
from bot.buyer import texts
from bot.buyer.keyboards import again_keyboard, view_cart_keyboard
from bot.i18n import language
from bot.money import Money, locale_for
from storage import MessageKind, Order, OrderStatus, OutboxMessage, Storage, delivery_of

if TYPE_CHECKING:
    from bot.outbox.goods import Goods

_ALERTS = frozenset(
    {
        MessageKind.ALERT_PAID,
        MessageKind.ALERT_REFUNDED,
        MessageKind.ALERT_FAILED,
        MessageKind.ALERT_FLAGGED,
    }
)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A chat message ready to send, or an edit of one already sent."""

    text: str
    reply_markup: InlineKeyboardMarkup | None = None
    # Edit this message of the chat instead of sending a new one.
    edit_message_id: int | None = None
    # A document sent with the text as its caption: a Telegram file id, or the file itself.
    document: str | InputFile | None = None
    # Told the message Telegram made, once it took it (to keep an uploaded file's id).
    on_sent: Callable[[Message], Awaitable[None]] | None = None


class Notices:
    """Renders outbox rows; None means there is nothing left to say (the order is gone, or
    its payment is no longer being processed)."""

    def __init__(self, storage: Storage, goods: Goods | None = None) -> None:
        self._storage = storage
        # Digital goods' deliveries, which need Telegram and the catalog.
        self._goods = goods

    async def compose(self, message: OutboxMessage) -> Outgoing | None:
        """The message to deliver for an outbox row."""
        if message.kind is MessageKind.HEALTH_ALERT:
            return Outgoing(html.escape(message.detail or "", quote=False))
        order = await self._storage.get_order(message.order_id) if message.order_id else None
        if order is None:
            return None
        if message.kind not in _ALERTS:
            # The buyer may have picked another language with /language since they ordered.
            chosen = await self._storage.buyer_language(order.telegram_user_id)
            order = replace(order, language=chosen or order.language)
        kind = message.kind
        if kind is MessageKind.PAYMENT_RECEIVED:
            return Outgoing(texts.payment_received(order))
        if kind is MessageKind.PAYMENT_PROCESSING:
            if order.status is not OrderStatus.PROCESSING:
                # Each row retries on its own backoff: sent now, "being processed" could
                # arrive after the payment's outcome and be the last word the buyer reads.
                return None
            return Outgoing(texts.payment_processing(order))
        if kind is MessageKind.PAYMENT_FAILED:
            return unpaid_notice(replace(order, status=OrderStatus.FAILED))
        if kind is MessageKind.LINK_EXPIRED:
            told = unpaid_notice(replace(order, status=OrderStatus.EXPIRED))
            # In place of the dead link's message, so that its button goes.
            return replace(told, edit_message_id=order.pay_message_id)
        if kind is MessageKind.DELIVERY:
            if self._goods is None:
                return None
            product_id, on_payment = delivery_of(message.detail)
            return await self._goods.delivery(order, product_id, on_payment=on_payment)
        if kind is MessageKind.ACCESS_REVOKED:
            return await self._goods.access_revoked(order) if self._goods else None
        if kind is MessageKind.REFUNDED:
            amount = Money(int(message.detail or 0), order.currency)
            return Outgoing(texts.refunded(order, amount))
        if message.kind in _ALERTS:
            locale = locale_for(await self._storage.admin_language(message.chat_id))
            if message.kind is MessageKind.ALERT_PAID:
                return Outgoing(admin_texts.alert_paid(order, locale))
            if message.kind is MessageKind.ALERT_REFUNDED:
                detail = message.detail or ""
                refund = int(detail) if detail.isdecimal() else None
                return Outgoing(admin_texts.alert_refunded(order, refund, locale))
            if message.kind is MessageKind.ALERT_FAILED:
                return Outgoing(admin_texts.alert_failed(order, locale))
            return Outgoing(admin_texts.alert_flagged(order, locale, message.detail))
        return None


def unpaid_notice(order: Order) -> Outgoing:
    """What became of a failed payment or an expired link, with the button to buy again."""
    if order.status is OrderStatus.FAILED:
        return Outgoing(texts.payment_failed(order), reply_markup=_again(order))
    return Outgoing(texts.link_expired(order), reply_markup=_product_button(order))


def _again(order: Order) -> InlineKeyboardMarkup:
    if order.from_cart:
        return view_cart_keyboard(language(order.language))
    return again_keyboard(order.id, texts.try_again_button(order.language))


def _product_button(order: Order) -> InlineKeyboardMarkup:
    """The expired link's product, priced as the buyer saw it, one tap from a new link; the
    cart, kept, for an order made from it."""
    if order.from_cart:
        return view_cart_keyboard(language(order.language))
    (line,) = order.lines
    title = line.title
    if line.quantity > 1:
        title = f"{title} × {line.quantity}"
    price = Money(order.amount_total, order.currency)
    label = texts.product_button(title, price, language(order.language).locale)
    return again_keyboard(order.id, label)
