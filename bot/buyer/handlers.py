"""The buyers' commands and button taps, in and out of Telegram; what a Buy tap gets is
decided in bot/buyer/purchase.py."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import stripe
from telegram import CallbackQuery, Message, Update, User
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
from bot.buyer import cart_texts, texts
from bot.buyer.keyboards import (
    AGAIN_PREFIX,
    BUY_PREFIX,
    orders_keyboard,
    pay_keyboard,
    product_and_quantity,
)
from bot.buyer.language import BuyerLanguages
from bot.buyer.purchase import (
    Buyer,
    CannotReplace,
    CartDecision,
    CheckAtStripe,
    Decision,
    GiveAgain,
    LineShort,
    MakeLink,
    NotEnoughLeft,
    PointToLink,
    Purchases,
)
from bot.buyer.stars import StarsCounter
from bot.buyer.storefront import Storefront
from bot.buyer.tap_guard import TapGuard
from bot.catalog.model import Catalog, LiveCatalog, Product
from bot.handler_groups import LAST_RESORT, ROOMS, taken_by_a_room
from bot.i18n import Language, language
from bot.money import Money
from bot.outbox.notices import unpaid_notice
from bot.references import order_id_for
from storage import Order, Storage
from storage.order_rules import (
    AWAITING_PAYMENT,
    ENDED_UNPAID,
    MONEY_KEPT,
    UNPAID,
    parse_order_id,
)

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE

ORDERS_SHOWN = 10


@dataclass(frozen=True, slots=True)
class Wanted:
    """What a Buy button, or a "New link" for an unpaid order, asks for."""

    product_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class FromCart:
    """A "New link" for an unpaid cart order: the cart's Checkout makes it."""


@dataclass(frozen=True, slots=True)
class PaidMeanwhile:
    """A "New link" for an order that needs none: paid, or being paid, since."""

    order: Order


class ShopHandlers:
    """The buyers' commands and taps, sharing the shop's catalog, store and purchases."""

    def __init__(
        self,
        *,
        catalog: LiveCatalog,
        storage: Storage,
        purchases: Purchases,
        expires_minutes: int,
        check_at_stripe: CheckAtStripe,
        tap_guard: TapGuard,
        buyers: BuyerLanguages,
        storefront: Storefront,
        support_contact: str | None = None,
        stars: StarsCounter | None = None,
    ) -> None:
        self.live = catalog
        self.storage = storage
        self.purchases = purchases
        self.expires_minutes = expires_minutes
        self.check_at_stripe = check_at_stripe
        self.tap_guard = tap_guard
        self.buyers = buyers
        self.storefront = storefront
        self.support_contact = support_contact
        # Products priced in Telegram Stars are sold with Telegram's invoice.
        self.stars = stars

    @property
    def catalog(self) -> Catalog:
        """The catalog in use now (a reload swaps it whole)."""
        return self.live.current

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        private = filters.ChatType.PRIVATE
        application.add_handlers(
            [
                CommandHandler("start", self.start, filters=private),
                CommandHandler("shop", self.shop, filters=private),
                CommandHandler("help", self.help, filters=private),
                CommandHandler("orders", self.orders, filters=private),
                CallbackQueryHandler(self.buy, pattern=f"^({BUY_PREFIX}|{AGAIN_PREFIX})"),
            ],
            group=ROOMS,
        )
        self.buyers.register(application)
        self.storefront.register(application)
        if self.stars is not None:
            self.stars.register(application)
        application.add_handlers(
            [
                CallbackQueryHandler(self.unknown_button),
                MessageHandler(private, self.fallback),
            ],
            group=LAST_RESORT,
        )

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
        stars = self.stars
        delivered = [
            order.id
            for order in orders
            if stars is not None and order.status in MONEY_KEPT and await stars.delivers(order)
        ]
        await message.reply_html(
            texts.buyer_orders(orders, lang),
            reply_markup=orders_keyboard(orders, lang, delivered),
        )

    async def buy(self, update: Update, context: Context) -> None:
        """A product tapped: reply with its Checkout link, made now or still open."""
        query = update.callback_query
        if query is None:
            return
        user = query.from_user
        lang = await self.buyers.of(user)
        match await self._wanted(query.data or "", user.id):
            case PaidMeanwhile(order):
                await answer_tap(query)
                text = texts.returned_after_payment(order)
                await context.bot.send_message(order.chat_id, text, parse_mode=ParseMode.HTML)
                return
            case FromCart():
                await answer_tap(query, cart_texts.check_out_cart_again(lang), alert=True)
                return
            case Wanted(product_id, quantity):
                product = self.catalog.get(product_id)
            case None:
                product, quantity = None, 1
        if product is None or not product.active:
            await answer_tap(query, texts.product_unavailable(lang), alert=True)
            return
        if not 1 <= quantity <= product.max_per_order:
            text = texts.at_most_per_order(product.max_per_order, lang)
            await answer_tap(query, text, alert=True)
            return
        if wait := await self.tap_guard.wait_needed(user.id):
            await answer_tap(query, texts.slow_down(wait, lang), alert=True)
            return
        chat_id = query.message.chat.id if query.message is not None else user.id
        code = await self.buyers.code_of(user)
        buyer = Buyer(user.id, chat_id, name=user.full_name, username=user.username, language=code)
        async with self.tap_guard.one_at_a_time(user.id, product.id) as mine:
            if not mine:
                await answer_tap(query, texts.link_on_its_way(lang))
                return
            if product.stars and self.stars is not None:
                await self.stars.sell(query, buyer, product, quantity, lang)
                return
            decision = await self.purchases.decide(buyer, product, quantity, now=int(time.time()))
            products = {product.id: product}
            link_above = texts.link_below(lang)
            await self.carry_out(decision, query, products, lang, context, link_above=link_above)

    async def carry_out(
        self,
        decision: Decision | CartDecision,
        query: CallbackQuery,
        products: Mapping[str, Product],
        lang: Language,
        context: Context,
        *,
        link_above: str,
    ) -> None:
        """Answer a Buy or Checkout tap as decided, sending the link when there is one
        (`products`: the catalog's, by id, for the order's lines; `link_above`: what a double
        tap is told)."""
        match decision:
            case PointToLink():
                await answer_tap(query, link_above)
            case NotEnoughLeft(left):
                text = texts.not_enough_left(left, lang) if left else texts.sold_out(lang)
                await answer_tap(query, text, alert=True)
            case LineShort(product, left):
                text = texts.line_short(product.title_in(lang.code), left, lang)
                await answer_tap(query, text, alert=True)
            case CannotReplace():
                await answer_tap(query, texts.link_failed(lang), alert=True)
            case GiveAgain(order):
                await answer_tap(query)
                await self.send_link(order, lang, context)
            case MakeLink(order):
                # Telegram shows a spinner on the button until the query is answered: the
                # answer travels while the link is being made, and arrives before the link.
                answering = asyncio.ensure_future(answer_tap(query))
                try:
                    made = await self.purchases.make_link(order, products)
                finally:
                    await answering
                if made is not None:
                    await self.send_link(made, lang, context)
                else:
                    text = texts.link_failed(language(order.language))
                    await context.bot.send_message(order.chat_id, text)

    async def send_link(self, order: Order, lang: Language, context: Context) -> None:
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

    async def unknown_button(self, update: Update, context: Context) -> None:
        """A button this bot never sent (or no longer knows): say it is not on sale."""
        query = update.callback_query
        if query is None or taken_by_a_room(update, context.application):
            return
        lang = await self.buyers.of(query.from_user)
        await answer_tap(query, texts.product_unavailable(lang), alert=True)

    async def fallback(self, update: Update, context: Context) -> None:
        """Anything else a buyer writes: point them to what works."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None or taken_by_a_room(update, context.application):
            return
        await message.reply_text(texts.unknown_input(await self.buyers.of(user)))

    # Shared

    async def on_error(self, update: object, context: Context) -> None:
        """Log what a handler raised; tell the buyer something went wrong rather than nothing.

        The application's error handler (bot/service.py registers it): admin commands answer
        their own failures (bot/admin/access.py)."""
        log.error("handling an update failed", exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat is not None:
            user = update.effective_user
            try:
                lang = await self.buyers.of(user) if user is not None else language(None)
                await context.bot.send_message(update.effective_chat.id, texts.internal_error(lang))
            except Exception:
                log.exception("could not tell the buyer about the failure")

    async def _wanted(self, data: str, user_id: int) -> Wanted | PaidMeanwhile | FromCart | None:
        """What a Buy button, or a "New link" for one of the buyer's orders, asks for; None for
        data this bot never sent, or another buyer's order."""
        if not data.startswith(AGAIN_PREFIX):
            wanted = product_and_quantity(data)
            return Wanted(*wanted) if wanted is not None else None
        order_id = parse_order_id(data.removeprefix(AGAIN_PREFIX))
        order = await self.storage.get_order(order_id) if order_id is not None else None
        if order is None or order.telegram_user_id != user_id:
            return None
        if order.status not in UNPAID:
            return PaidMeanwhile(await self._in_buyers_language(order))
        if order.from_cart:
            return FromCart()
        (line,) = order.lines
        return Wanted(line.product_id, line.quantity)

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
        # Fulfil on return: the buyer need not wait for the webhook. Each check is a request
        # to Stripe, counted with the buyer's taps: past their pace the stored state answers.
        if (
            kind == "paid"
            and order.status in AWAITING_PAYMENT
            and not await self.tap_guard.wait_needed(user.id)
        ):
            try:
                await self.check_at_stripe(order, source="buyer's return")
            except stripe.StripeError as exc:
                log.warning("order %s: could not check it at Stripe: %s", order.id, exc)
            fresh = await self.storage.get_order(order.id)
            if fresh is not None and fresh.status not in AWAITING_PAYMENT:
                return True  # its confirmation (or failure notice) is on its way
        order = await self._in_buyers_language(order)
        if order.status in ENDED_UNPAID:
            # Whichever way the buyer came back, say what became of the payment.
            told = unpaid_notice(order)
            await message.reply_html(told.text, reply_markup=told.reply_markup)
        elif kind == "paid" or order.status not in AWAITING_PAYMENT:
            await message.reply_html(texts.returned_after_payment(order))
        else:
            await message.reply_html(texts.returned_after_cancel(order))
            await self.storefront.send_home(message, user, greet=False)
        return True
