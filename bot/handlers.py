"""What the bot does with each command and button tap."""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

import stripe
from telegram import Message, Update, User
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot import texts
from bot.catalog import Catalog, Product
from bot.checkout import CheckoutLinks
from bot.keyboards import catalog_keyboard, pay_keyboard, product_id_from
from bot.money import Money, locale_for
from bot.references import order_id_for
from bot.tap_guard import TapGuard
from storage import NewOrder, Order, OrderStatus, SQLiteStorage

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE


class CheckAtStripe(Protocol):
    """Reads an order's session back from Stripe and applies it (reconciliation's check)."""

    async def __call__(self, order: Order, *, source: str) -> object: ...


ORDERS_SHOWN = 10
WAITING = (OrderStatus.PENDING, OrderStatus.PROCESSING)
# A link about to expire is not worth giving again: make a new one.
LINK_MARGIN_SECONDS = 120
# A tap within this long of its link being sent is a double tap: the link is right there.
RESEND_AFTER_SECONDS = 30


class ShopHandlers:
    """The buyers' commands and taps, sharing the shop's catalog, store and Stripe links."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        storage: SQLiteStorage,
        links: CheckoutLinks,
        expires_minutes: int,
        check_at_stripe: CheckAtStripe,
        tap_guard: TapGuard,
    ) -> None:
        self.catalog = catalog
        self.storage = storage
        self.links = links
        self.expires_minutes = expires_minutes
        self.check_at_stripe = check_at_stripe
        self.tap_guard = tap_guard

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        private = filters.ChatType.PRIVATE
        application.add_handler(CommandHandler("start", self.start, filters=private))
        application.add_handler(CommandHandler("shop", self.shop, filters=private))
        application.add_handler(CommandHandler("help", self.help, filters=private))
        application.add_handler(CommandHandler("orders", self.orders, filters=private))
        application.add_handler(CallbackQueryHandler(self.buy))
        application.add_handler(MessageHandler(private, self.fallback))
        application.add_error_handler(self.on_error)

    # Buyers

    async def start(self, update: Update, context: Context) -> None:
        """Greet the buyer and show the catalog, or answer their return from Stripe."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        if context.args and await self._answer_return(message, user, context.args[0]):
            return
        await self._send_catalog(message, user, texts.greeting(self.catalog, user.first_name))

    async def shop(self, update: Update, context: Context) -> None:
        """Show the catalog as buttons."""
        message, user = update.effective_message, update.effective_user
        if message is not None and user is not None:
            await self._send_catalog(message, user, texts.catalog_intro(self.catalog))

    async def help(self, update: Update, context: Context) -> None:
        """Explain how buying works and whom to ask."""
        if update.effective_message is not None:
            await update.effective_message.reply_html(texts.help_text(self.catalog))

    async def orders(self, update: Update, context: Context) -> None:
        """List the buyer's own latest orders."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        orders = await self.storage.orders_of_buyer(user.id, ORDERS_SHOWN)
        await message.reply_html(texts.buyer_orders(orders, locale_for(user.language_code)))

    async def buy(self, update: Update, context: Context) -> None:
        """A product tapped: reply with its Checkout link, made now or still open."""
        query = update.callback_query
        if query is None:
            return
        user = query.from_user
        product_id = product_id_from(query.data or "")
        product = self.catalog.get(product_id) if product_id else None
        if product is None or not product.active:
            await query.answer(texts.product_unavailable(), show_alert=True)
            return
        if wait := self.tap_guard.wait_needed(user.id):
            await query.answer(texts.slow_down(wait), show_alert=True)
            return
        chat_id = query.message.chat.id if query.message is not None else user.id
        async with self.tap_guard.one_at_a_time(user.id, product.id):
            now = int(time.time())
            order = await self.storage.open_link_for(user.id, product.id, now + LINK_MARGIN_SECONDS)
            if order is not None and order.updated_at > now - RESEND_AFTER_SECONDS:
                # A second tap while the first link was just sent: point to it, send nothing.
                await query.answer(texts.link_below())
                return
            # Answer now: Telegram shows a spinner on the button until the query is answered.
            await query.answer()
            if order is None:
                order = await self._new_link(user, chat_id, product, context)
            if order is not None:
                await self._send_link(order, context)

    async def _new_link(
        self, user: User, chat_id: int, product: Product, context: Context
    ) -> Order | None:
        """A pending order and its Checkout Session; None (and the buyer told) if Stripe fails."""
        order = await self.storage.create_order(
            NewOrder(
                telegram_user_id=user.id,
                chat_id=chat_id,
                buyer_name=user.full_name,
                buyer_username=user.username,
                language=user.language_code,
                product_id=product.id,
                product_title=product.title_in(user.language_code),
                quantity=1,
                unit_amount=product.price.minor,
                currency=product.price.currency,
            )
        )
        try:
            link = await self.links.create(order, product)
        except stripe.StripeError as exc:
            log.error("order %s: Stripe refused the Checkout Session: %s", order.id, _describe(exc))
            await self.storage.fail_order(order, f"checkout session: {_describe(exc)}")
            await context.bot.send_message(chat_id, texts.link_failed())
            return None
        await self.storage.attach_checkout(order.id, link.session_id, link.url, link.expires_at)
        return await self.storage.get_order(order.id)

    async def _send_link(self, order: Order, context: Context) -> None:
        """The message with the pay button; remembered so the button can go when it expires."""
        assert order.checkout_url is not None
        locale = locale_for(order.language)
        message = await context.bot.send_message(
            order.chat_id,
            texts.payment_link(order, self.expires_minutes, locale),
            parse_mode=ParseMode.HTML,
            reply_markup=pay_keyboard(
                order.checkout_url, Money(order.amount_total, order.currency), locale
            ),
        )
        await self.storage.set_pay_message(order.id, message.message_id)

    async def fallback(self, update: Update, context: Context) -> None:
        """Anything else a buyer writes: point them to what works."""
        if update.effective_message is not None:
            await update.effective_message.reply_text(texts.unknown_input())

    # Shared

    async def on_error(self, update: object, context: Context) -> None:
        """Log what a handler raised; tell the buyer something went wrong rather than nothing."""
        log.error("handling an update failed", exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat is not None:
            try:
                await context.bot.send_message(update.effective_chat.id, texts.internal_error())
            except Exception:
                log.exception("could not tell the buyer about the failure")

    async def _send_catalog(self, message: Message, user: User, intro: str) -> None:
        """The products on sale as buttons, under `intro`."""
        products = self.catalog.on_sale()
        if not products:
            await message.reply_html(texts.nothing_on_sale(self.catalog))
            return
        locale = locale_for(user.language_code)
        await message.reply_html(
            intro,
            reply_markup=catalog_keyboard(products, user.language_code, locale),
        )

    async def _answer_return(self, message: Message, user: User, payload: str) -> bool:
        """Answer `/start paid-K7Q2` or `/start cancel-K7Q2`; False for any other payload."""
        kind, _, reference = payload.partition("-")
        order_id = order_id_for(reference) if kind in ("paid", "cancel") else None
        order = await self.storage.get_order(order_id) if order_id is not None else None
        if order is None or order.telegram_user_id != user.id:
            return False
        if kind == "paid":
            if order.status in WAITING:
                # Fulfil on return: the buyer need not wait for the webhook.
                try:
                    await self.check_at_stripe(order, source="buyer's return")
                except stripe.StripeError as exc:
                    log.warning("order %s: could not check it at Stripe: %s", order.id, exc)
                fresh = await self.storage.get_order(order.id)
                if fresh is not None and fresh.status not in WAITING:
                    return True  # its confirmation (or failure notice) is on its way
            await message.reply_html(texts.returned_after_payment(order))
        else:
            await message.reply_html(texts.returned_after_cancel(order))
            await self._send_catalog(message, user, texts.catalog_intro(self.catalog))
        return True


def _describe(exc: stripe.StripeError) -> str:
    """A log-safe summary of a Stripe error: its class, HTTP status and message."""
    return f"{type(exc).__name__} (HTTP {exc.http_status}): {exc.user_message or exc}"
