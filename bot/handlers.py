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
from bot.catalog import Catalog, LiveCatalog
from bot.checkout import CheckoutLinks
from bot.i18n import language
from bot.keyboards import (
    AGAIN_PREFIX,
    BUY_PREFIX,
    orders_keyboard,
    pay_keyboard,
    product_and_quantity,
)
from bot.language import BuyerLanguages
from bot.money import Money
from bot.references import order_id_for
from bot.storefront import Storefront
from storage import NewOrder, SQLiteStorage

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE

ORDERS_SHOWN = 10


class ShopHandlers:
    """The buyers' commands and taps, sharing the shop's catalog, store and Stripe links."""

    def __init__(
        self,
        *,
        catalog: LiveCatalog,
        storage: SQLiteStorage,
        links: CheckoutLinks,
        expires_minutes: int,
        buyers: BuyerLanguages,
        storefront: Storefront,
        support_contact: str | None = None,
    ) -> None:
        self.live = catalog
        self.storage = storage
        self.links = links
        self.expires_minutes = expires_minutes
        self.buyers = buyers
        self.storefront = storefront
        self.support_contact = support_contact

    @property
    def catalog(self) -> Catalog:
        """The catalog in use now (a reload swaps it whole)."""
        return self.live.current

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        private = filters.ChatType.PRIVATE
        application.add_handler(CommandHandler("start", self.start, filters=private))
        application.add_handler(CommandHandler("shop", self.shop, filters=private))
        application.add_handler(CommandHandler("help", self.help, filters=private))
        application.add_handler(CommandHandler("orders", self.orders, filters=private))
        self.buyers.register(application)
        self.storefront.register(application)
        application.add_handler(
            CallbackQueryHandler(self.buy, pattern=f"^({BUY_PREFIX}|{AGAIN_PREFIX})")
        )
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
        await self.storefront.send_home(message, user, greet=True)

    async def shop(self, update: Update, context: Context) -> None:
        """Show the shop's first page: categories, or products."""
        message, user = update.effective_message, update.effective_user
        if message is not None and user is not None:
            await self.storefront.send_home(message, user, greet=False)

    async def help(self, update: Update, context: Context) -> None:
        """Explain how buying works and whom to ask."""
        message, user = update.effective_message, update.effective_user
        if message is not None and user is not None:
            catalog = self.catalog
            support = self.support_contact or catalog.support
            await message.reply_html(texts.help_text(catalog, support, await self.buyers.of(user)))

    async def orders(self, update: Update, context: Context) -> None:
        """List the buyer's own latest orders."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        orders = await self.storage.orders_of_buyer(user.id, ORDERS_SHOWN)
        lang = await self.buyers.of(user)
        await message.reply_html(
            texts.buyer_orders(orders, lang), reply_markup=orders_keyboard(orders, lang)
        )

    async def buy(self, update: Update, context: Context) -> None:
        """A product tapped: record a pending order and reply with its Checkout link."""
        query = update.callback_query
        if query is None:
            return
        user = query.from_user
        language_code = await self.buyers.code_of(user)
        lang = await self.buyers.of(user)
        product_id, quantity = await self._wanted(query.data or "", user.id) or ("", 1)
        product = self.catalog.get(product_id) if product_id else None
        if product is None or not product.active:
            await query.answer(texts.product_unavailable(lang), show_alert=True)
            return
        if not 1 <= quantity <= product.max_per_order:
            await query.answer(
                texts.at_most_per_order(product.max_per_order, lang), show_alert=True
            )
            return
        chat_id = query.message.chat.id if query.message is not None else user.id
        order = await self.storage.create_order_within_stock(
            NewOrder(
                telegram_user_id=user.id,
                chat_id=chat_id,
                buyer_name=user.full_name,
                buyer_username=user.username,
                language=language_code,
                product_id=product.id,
                product_title=product.title_in(lang.code),
                quantity=quantity,
                unit_amount=product.price.minor,
                currency=product.price.currency,
            ),
            product.stock,
        )
        if order is None:
            left = (await self.storage.stock_left([product.id])).get(product.id, 0)
            refusal = texts.not_enough_left(left, lang) if left else texts.sold_out(lang)
            await query.answer(refusal, show_alert=True)
            return
        # Answer now: Telegram shows a spinner on the button until the query is answered.
        await query.answer()
        try:
            link = await self.links.create(order, product)
        except stripe.StripeError as exc:
            log.error("order %s: Stripe refused the Checkout Session: %s", order.id, _describe(exc))
            await self.storage.fail_order(order, f"checkout session: {_describe(exc)}")
            await context.bot.send_message(chat_id, texts.link_failed(lang))
            return
        await self.storage.attach_checkout(order.id, link.session_id, link.url, link.expires_at)
        await context.bot.send_message(
            chat_id,
            texts.payment_link(order, self.expires_minutes, lang),
            parse_mode=ParseMode.HTML,
            reply_markup=pay_keyboard(link.url, Money(order.amount_total, order.currency), lang),
        )

    async def fallback(self, update: Update, context: Context) -> None:
        """Anything else a buyer writes: point them to what works."""
        message, user = update.effective_message, update.effective_user
        if message is not None and user is not None:
            await message.reply_text(texts.unknown_input(await self.buyers.of(user)))

    # Shared

    async def on_error(self, update: object, context: Context) -> None:
        """Log what a handler raised; tell the buyer something went wrong rather than nothing."""
        log.error("handling an update failed", exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat is not None:
            user = update.effective_user
            lang = language(user.language_code if user is not None else None)
            try:
                await context.bot.send_message(update.effective_chat.id, texts.internal_error(lang))
            except Exception:
                log.exception("could not tell the buyer about the failure")

    async def _wanted(self, data: str, user_id: int) -> tuple[str, int] | None:
        """The product and quantity a Buy button, or an unpaid order's "new link", asks for."""
        if not data.startswith(AGAIN_PREFIX):
            return product_and_quantity(data)
        number = data.removeprefix(AGAIN_PREFIX)
        order = await self.storage.get_order(int(number)) if number.isdigit() else None
        if order is None or order.telegram_user_id != user_id or order.status not in texts.UNPAID:
            return None
        return order.product_id, order.quantity

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
            await self.storefront.send_home(message, user, greet=False)
        return True


def _describe(exc: stripe.StripeError) -> str:
    """A log-safe summary of a Stripe error: its class, HTTP status and message."""
    return f"{type(exc).__name__} (HTTP {exc.http_status}): {exc.user_message or exc}"
