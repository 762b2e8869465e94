"""What the bot does with each command and button tap."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
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

from bot.answers import answer_tap
from bot.buyer import texts
from bot.buyer.checkout import CheckoutLinks
from bot.buyer.keyboards import (
    AGAIN_PREFIX,
    orders_keyboard,
    pay_keyboard,
    product_and_quantity,
)
from bot.buyer.language import BuyerLanguages
from bot.buyer.storefront import Storefront
from bot.buyer.tap_guard import TapGuard
from bot.catalog.model import Catalog, LiveCatalog, Product
from bot.i18n import Language, language
from bot.money import Money
from bot.outbox.notices import unpaid_notice
from bot.references import order_id_for
from storage import NewOrder, Order, OrderStatus, Storage

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
        catalog: LiveCatalog,
        storage: Storage,
        links: CheckoutLinks,
        expires_minutes: int,
        check_at_stripe: CheckAtStripe,
        tap_guard: TapGuard,
        buyers: BuyerLanguages,
        storefront: Storefront,
        support_contact: str | None = None,
    ) -> None:
        self.live = catalog
        self.storage = storage
        self.links = links
        self.expires_minutes = expires_minutes
        self.check_at_stripe = check_at_stripe
        self.tap_guard = tap_guard
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
        # Last: Buy and "new link" buttons, and data this bot never sent (answered politely).
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
        """A product tapped: reply with its Checkout link, made now or still open."""
        query = update.callback_query
        if query is None:
            return
        user = query.from_user
        lang = await self.buyers.of(user)
        wanted = await self._wanted(query.data or "", user.id)
        if isinstance(wanted, Order):  # "New link" for an order paid, or being paid, meanwhile
            await answer_tap(query)
            await context.bot.send_message(
                wanted.chat_id, texts.returned_after_payment(wanted), parse_mode=ParseMode.HTML
            )
            return
        product_id, quantity = wanted or ("", 1)
        product = self.catalog.get(product_id) if product_id else None
        if product is None or not product.active:
            await answer_tap(query, texts.product_unavailable(lang), alert=True)
            return
        if not 1 <= quantity <= product.max_per_order:
            text = texts.at_most_per_order(product.max_per_order, lang)
            await answer_tap(query, text, alert=True)
            return
        if wait := self.tap_guard.wait_needed(user.id):
            await answer_tap(query, texts.slow_down(wait, lang), alert=True)
            return
        chat_id = query.message.chat.id if query.message is not None else user.id
        async with self.tap_guard.one_at_a_time(user.id, product.id):
            now = int(time.time())
            order = await self.storage.open_link_for(user.id, product.id, now)
            # An open link for another quantity, or about to expire, is replaced: it is closed
            # at Stripe first, so that the buyer cannot pay both.
            if order is not None and (
                order.quantity != quantity
                or (order.checkout_expires_at or 0) <= now + LINK_MARGIN_SECONDS
            ):
                # A refusal must leave the buyer the link they have: count before closing it.
                if not await self._enough_left(product, quantity, replacing=order.id):
                    refusal = await self._stock_refusal(product, lang, replacing=order.id)
                    await answer_tap(query, refusal, alert=True)
                    return
                replacing = await self._close(order)
                if replacing is None:
                    await answer_tap(query, texts.link_failed(lang), alert=True)
                    return
                order = None
            else:
                replacing = None
            if (
                order is not None
                and order.pay_message_id is not None
                and order.updated_at > now - RESEND_AFTER_SECONDS
            ):
                # A second tap while the first link was just sent: point to it, send nothing.
                await answer_tap(query, texts.link_below(lang))
                return
            if order is None:
                order = await self._reserve(user, chat_id, product, quantity, replacing or None)
                if order is None:
                    await answer_tap(query, await self._stock_refusal(product, lang), alert=True)
                    return
                # Telegram shows a spinner on the button until the query is answered: the
                # answer travels while the link is being made, and arrives before the link.
                answering = asyncio.ensure_future(answer_tap(query))
                try:
                    order = await self._new_link(order, product, context)
                finally:
                    await answering
            else:
                await answer_tap(query)
            if order is not None:
                await self._send_link(order, lang, context)

    async def _reserve(
        self, user: User, chat_id: int, product: Product, quantity: int, replacing: int | None
    ) -> Order | None:
        """A pending order holding its units (not counting those of the order it replaces);
        None when fewer are left."""
        language_code = await self.buyers.code_of(user)
        return await self.storage.create_order_within_stock(
            NewOrder(
                telegram_user_id=user.id,
                chat_id=chat_id,
                buyer_name=user.full_name,
                buyer_username=user.username,
                language=language_code,
                product_id=product.id,
                product_title=product.title_in(language(language_code).code),
                quantity=quantity,
                unit_amount=product.price.minor,
                currency=product.price.currency,
            ),
            product.stock,
            replacing=replacing,
        )

    async def _close(self, replaced: Order) -> int | None:
        """Expire the buyer's earlier link at Stripe before a new one is made, so that both
        cannot be paid. Returns the id of an order whose units the new one may take over, 0
        when there is none (it was paid meanwhile), None when Stripe could not be asked."""
        assert replaced.checkout_session_id is not None
        try:
            await self.links.expire(replaced.checkout_session_id)
        except stripe.InvalidRequestError:
            pass  # not open any more: paid or expired meanwhile, which the check below applies
        except stripe.StripeError as exc:
            log.error("order %s: its link could not be closed: %s", replaced.id, _describe(exc))
            return None
        try:
            await self.check_at_stripe(replaced, source="replaced by a new link")
        except stripe.StripeError as exc:  # its expiry event will tell us anyway
            log.warning("order %s: could not check it at Stripe: %s", replaced.id, exc)
        fresh = await self.storage.get_order(replaced.id)
        # Still pending: its expiry has not been applied yet, and its units are the buyer's.
        return replaced.id if fresh is not None and fresh.status is OrderStatus.PENDING else 0

    async def _no_link(self, order: Order, reason: str, context: Context) -> None:
        """Fail an order that got no link, and ask its buyer to try again."""
        log.error("order %s: %s", order.id, reason)
        await self.storage.fail_order(order, reason)
        await context.bot.send_message(order.chat_id, texts.link_failed(language(order.language)))

    async def _enough_left(self, product: Product, quantity: int, *, replacing: int) -> bool:
        if product.stock is None:
            return True
        left = await self.storage.stock_left([product.id], replacing=replacing)
        return left.get(product.id, quantity) >= quantity

    async def _stock_refusal(
        self, product: Product, lang: Language, *, replacing: int | None = None
    ) -> str:
        left = (await self.storage.stock_left([product.id], replacing=replacing)).get(product.id, 0)
        return texts.not_enough_left(left, lang) if left else texts.sold_out(lang)

    async def _new_link(self, order: Order, product: Product, context: Context) -> Order | None:
        """The order's Checkout Session; None (and the buyer told) if Stripe fails."""
        try:
            link = await self.links.create(order, product)
        except stripe.StripeError as exc:
            reason = f"Stripe refused the Checkout Session: {_describe(exc)}"
            await self._no_link(order, reason, context)
            return None
        await self.storage.attach_checkout(order.id, link.session_id, link.url, link.expires_at)
        return await self.storage.get_order(order.id)

    async def _send_link(self, order: Order, lang: Language, context: Context) -> None:
        """The message with the pay button; remembered so the button can go when it expires."""
        assert order.checkout_url is not None and order.checkout_expires_at is not None
        # A link given again works for what is left of it, which is less than a new one's.
        minutes_left = (order.checkout_expires_at - int(time.time())) // 60
        message = await context.bot.send_message(
            order.chat_id,
            texts.payment_link(order, max(1, min(self.expires_minutes, minutes_left)), lang),
            parse_mode=ParseMode.HTML,
            reply_markup=pay_keyboard(
                order.checkout_url, Money(order.amount_total, order.currency), lang
            ),
        )
        await self.storage.set_pay_message(order.id, message.message_id)

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
            try:
                lang = await self.buyers.of(user) if user is not None else language(None)
                await context.bot.send_message(update.effective_chat.id, texts.internal_error(lang))
            except Exception:
                log.exception("could not tell the buyer about the failure")

    async def _wanted(self, data: str, user_id: int) -> tuple[str, int] | Order | None:
        """The product and quantity a Buy button, or an unpaid order's "new link", asks for;
        the order itself when "new link" names one of the buyer's that needs none."""
        if not data.startswith(AGAIN_PREFIX):
            return product_and_quantity(data)
        number = data.removeprefix(AGAIN_PREFIX)
        # Order ids are SQLite integers: more digits than 18 name none (and overflow them).
        known = number.isdecimal() and number.isascii() and len(number) <= 18
        order = await self.storage.get_order(int(number)) if known else None
        if order is None or order.telegram_user_id != user_id:
            return None
        if order.status not in texts.UNPAID:
            return await self._in_buyers_language(order)
        return order.product_id, order.quantity

    async def _in_buyers_language(self, order: Order) -> Order:
        """The order, to be spoken of in the language its buyer reads now (/language)."""
        chosen = await self.storage.buyer_language(order.telegram_user_id)
        return replace(order, language=chosen or order.language)

    async def _answer_return(self, message: Message, user: User, payload: str) -> bool:
        """Answer `/start paid-K7Q2` or `/start cancel-K7Q2`; False for any other payload."""
        kind, _, reference = payload.partition("-")
        order_id = order_id_for(reference) if kind in ("paid", "cancel") else None
        order = await self.storage.get_order(order_id) if order_id is not None else None
        if order is None or order.telegram_user_id != user.id:
            return False
        if kind == "paid" and order.status in WAITING:
            # Fulfil on return: the buyer need not wait for the webhook.
            try:
                await self.check_at_stripe(order, source="buyer's return")
            except stripe.StripeError as exc:
                log.warning("order %s: could not check it at Stripe: %s", order.id, exc)
            fresh = await self.storage.get_order(order.id)
            if fresh is not None and fresh.status not in WAITING:
                return True  # its confirmation (or failure notice) is on its way
        order = await self._in_buyers_language(order)
        if order.status in (OrderStatus.FAILED, OrderStatus.EXPIRED):
            # Whichever way the buyer came back, say what became of the payment.
            told = unpaid_notice(order)
            await message.reply_html(told.text, reply_markup=told.reply_markup)
        elif kind == "paid" or order.status not in WAITING:
            await message.reply_html(texts.returned_after_payment(order))
        else:
            await message.reply_html(texts.returned_after_cancel(order))
            await self.storefront.send_home(message, user, greet=False)
        return True


def _describe(exc: stripe.StripeError) -> str:
    """A log-safe summary of a Stripe error: its class, HTTP status and message."""
    return f"{type(exc).__name__} (HTTP {exc.http_status}): {exc.user_message or exc}"
