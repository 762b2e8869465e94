"""What the bot does with each command and button tap."""

from __future__ import annotations

import logging
from typing import Any

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
from bot.catalog import Catalog
from bot.checkout import CheckoutLinks
from bot.keyboards import catalog_keyboard, pay_keyboard, product_id_from
from bot.money import Money, locale_for
from bot.references import order_id_for
from storage import NewOrder, SQLiteStorage

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE

ORDERS_SHOWN = 10


class ShopHandlers:
    """The buyers' commands and taps, sharing the shop's catalog, store and Stripe links."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        storage: SQLiteStorage,
        links: CheckoutLinks,
        expires_minutes: int,
    ) -> None:
        self.catalog = catalog
        self.storage = storage
        self.links = links
        self.expires_minutes = expires_minutes

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
        """A product tapped: record a pending order and reply with its Checkout link."""
        query = update.callback_query
        if query is None:
            return
        user = query.from_user
        # Answer at once: Telegram shows a spinner on the button until the query is answered.
        product_id = product_id_from(query.data or "")
        product = self.catalog.get(product_id) if product_id else None
        if product is None or not product.active:
            await query.answer(texts.product_unavailable(), show_alert=True)
            return
        await query.answer()
        chat_id = query.message.chat.id if query.message is not None else user.id
        locale = locale_for(user.language_code)
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
            return
        await self.storage.attach_checkout(order.id, link.session_id, link.url, link.expires_at)
        await context.bot.send_message(
            chat_id,
            texts.payment_link(order, self.expires_minutes, locale),
            parse_mode=ParseMode.HTML,
            reply_markup=pay_keyboard(link.url, Money(order.amount_total, order.currency), locale),
        )

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
            await message.reply_html(texts.returned_after_payment(order))
        else:
            await message.reply_html(texts.returned_after_cancel(order))
            await self._send_catalog(message, user, texts.catalog_intro(self.catalog))
        return True


def _describe(exc: stripe.StripeError) -> str:
    """A log-safe summary of a Stripe error: its class, HTTP status and message."""
    return f"{type(exc).__name__} (HTTP {exc.http_status}): {exc.user_message or exc}"
