"""The cart's command and taps, in and out of Telegram: /cart, Add to cart on a card, − / + / ✕
on a line, Checkout and Empty cart. What they do is decided in bot/buyer/cart.py and, for the
checkout, bot/buyer/purchase.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, filters

from bot.answers import answer_tap
from bot.buyer import cart_texts, texts
from bot.buyer.cart import Added, AtBound, CartContents, CartFull, Carts, OtherCurrency
from bot.buyer.keyboards import (
    ADD_PREFIX,
    CART,
    CART_LINE_PREFIX,
    CHECKOUT,
    EMPTY_CART,
    NEW_CART_PREFIX,
    cart_keyboard,
    home_data,
    other_currency_keyboard,
    split_id_and_number,
    view_cart_keyboard,
)
from bot.buyer.language import BuyerLanguages
from bot.buyer.purchase import Buyer, CartDecision, Purchases
from bot.buyer.stars import StarsCounter
from bot.buyer.tap_guard import TapGuard
from bot.catalog.model import LiveCatalog, Product
from bot.handler_groups import ROOMS
from bot.i18n import Language
from bot.money import STARS

Context = ContextTypes.DEFAULT_TYPE


class CarryOut(Protocol):
    """Answers a Checkout tap as decided, sending the link when there is one (the shop's own
    way for Buy: bot/buyer/handlers.py)."""

    async def __call__(
        self,
        decision: CartDecision,
        query: CallbackQuery,
        products: Mapping[str, Product],
        lang: Language,
        context: Context,
        *,
        link_above: str,
    ) -> None: ...


# The tap guard's key for a buyer's cart: no product id is empty. A checkout and every edit
# hold it, so that an edit comes before the checkout reads the cart, or after it has its link
# (in this process, the edit waits; in another, it is refused: the turn is in the database).
CART_TURN = ""
# What the cart turn is held for, which a tap on another replica reads to know what it met.
CHECKING_OUT = "checkout"
CHANGING = "change"
# A change is a few statements: a tap that meets one on another replica waits for the turn up
# to this long (reading it again every CHANGE_POLL_SECONDS), then asks the buyer to try again.
# A checkout elsewhere (a Stripe request) is not waited for.
CHANGE_WAIT_SECONDS = 2.0
CHANGE_POLL_SECONDS = 0.05


class CartHandlers:
    """The buyer's cart, from a card's Add to cart to the checkout's pay message."""

    def __init__(
        self,
        *,
        catalog: LiveCatalog,
        carts: Carts,
        purchases: Purchases,
        buyers: BuyerLanguages,
        tap_guard: TapGuard,
        carry_out: CarryOut,
        stars: StarsCounter | None = None,
    ) -> None:
        self.live = catalog
        self.carts = carts
        self.purchases = purchases
        self.buyers = buyers
        self.tap_guard = tap_guard
        self.carry_out = carry_out
        # A cart in Telegram Stars is paid with Telegram's invoice.
        self.stars = stars

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        application.add_handlers(
            [
                CommandHandler("cart", self.cart, filters=filters.ChatType.PRIVATE),
                CallbackQueryHandler(self.add, pattern=f"^({ADD_PREFIX}|{NEW_CART_PREFIX})"),
                CallbackQueryHandler(self.view, pattern=f"^{CART}$"),
                CallbackQueryHandler(self.change_line, pattern=f"^{CART_LINE_PREFIX}"),
                CallbackQueryHandler(self.checkout, pattern=f"^{CHECKOUT}$"),
                CallbackQueryHandler(self.empty, pattern=f"^{EMPTY_CART}$"),
            ],
            group=ROOMS,
        )

    async def cart(self, update: Update, context: Context) -> None:
        """Show the buyer's cart."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        lang = await self.buyers.of(user)
        text, markup = _cart_view(await self.carts.contents(user.id), lang)
        await message.reply_html(text, reply_markup=markup)

    async def view(self, update: Update, context: Context) -> None:
        """A View cart or Cart button: the tapped message becomes the cart."""
        query = update.callback_query
        if query is not None:
            await answer_tap(query)
            await self._show(query, context)

    async def add(self, update: Update, context: Context) -> None:
        """Add to cart on a card (or Start a new cart): put the units in, say what it holds."""
        query = update.callback_query
        if query is None:
            return
        user, data = query.from_user, query.data or ""
        lang = await self.buyers.of(user)
        new_cart = data.startswith(NEW_CART_PREFIX)
        try:
            product_id, quantity = split_id_and_number(
                data, NEW_CART_PREFIX if new_cart else ADD_PREFIX
            )
        except ValueError:
            await answer_tap(query, texts.unknown_input(lang), alert=True)
            return
        product = self.live.current.get(product_id)
        if product is None or not product.active:
            await answer_tap(query, texts.product_unavailable(lang), alert=True)
            return
        if not 1 <= quantity <= product.max_per_order:
            await answer_tap(
                query, texts.at_most_per_order(product.max_per_order, lang), alert=True
            )
            return
        if wait := await self.tap_guard.wait_needed(user.id):
            await answer_tap(query, texts.slow_down(wait, lang), alert=True)
            return
        async with self._cart_turn(user.id, CHANGING) as busy:
            if busy is not None:
                await answer_tap(query, _change_refused(busy, lang), alert=True)
                return
            result = await self.carts.add(user.id, product, quantity, new_cart=new_cart)
        await self._tell_added(query, product, quantity, result, lang, context)

    async def _tell_added(
        self,
        query: CallbackQuery,
        product: Product,
        quantity: int,
        result: Added | AtBound | OtherCurrency | CartFull,
        lang: Language,
        context: Context,
    ) -> None:
        chat_id = query.message.chat.id if query.message is not None else query.from_user.id
        title = product.title_in(lang.code)
        match result:
            case Added(held, capped, contents):
                await answer_tap(query, cart_texts.cart_capped(lang) if capped else None)
                text = cart_texts.added_to_cart(title, held, contents.units, contents.total, lang)
                await context.bot.send_message(
                    chat_id, text, parse_mode=ParseMode.HTML, reply_markup=view_cart_keyboard(lang)
                )
            case AtBound(upper, left):
                await answer_tap(query, _bound_text(product, upper, left, lang), alert=True)
            case OtherCurrency(cart_currency):
                await answer_tap(query)
                text = cart_texts.other_currency(title, cart_currency, product.price.currency, lang)
                markup = other_currency_keyboard(product.id, quantity, lang)
                await context.bot.send_message(
                    chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup
                )
            case CartFull():
                await answer_tap(query, cart_texts.cart_full(lang), alert=True)

    async def change_line(self, update: Update, context: Context) -> None:
        """− / + / ✕ on a line: its new quantity, within its bounds."""
        query = update.callback_query
        if query is None:
            return
        user = query.from_user
        lang = await self.buyers.of(user)
        try:
            product_id, quantity = split_id_and_number(query.data or "", CART_LINE_PREFIX)
        except ValueError:
            await answer_tap(query, texts.unknown_input(lang), alert=True)
            return
        async with self._cart_turn(user.id, CHANGING) as busy:
            if busy is not None:
                await answer_tap(query, _change_refused(busy, lang), alert=True)
                return
            row = (await self.carts.contents(user.id)).row(product_id)
            # A line off sale only goes down or out (its + is from a view before a reload).
            if row is not None and quantity > row.line.quantity and not row.on_sale:
                await answer_tap(query, texts.product_unavailable(lang), alert=True)
                return
            if row is not None and quantity > max(row.upper, row.line.quantity):
                product = row.product
                assert product is not None  # on sale
                left = row.upper if row.upper < product.max_per_order else None
                await answer_tap(query, _bound_text(product, row.upper, left, lang), alert=True)
                return
            if row is not None:
                await self.carts.change(user.id, product_id, quantity)
        # A line gone meanwhile (another device): the cart as it is now is the answer.
        await answer_tap(query)
        await self._show(query, context)

    async def empty(self, update: Update, context: Context) -> None:
        """Empty cart: every line out."""
        query = update.callback_query
        if query is None:
            return
        async with self._cart_turn(query.from_user.id, CHANGING) as busy:
            if busy is not None:
                lang = await self.buyers.of(query.from_user)
                await answer_tap(query, _change_refused(busy, lang), alert=True)
                return
            await self.carts.empty(query.from_user.id)
        await answer_tap(query)
        await self._show(query, context)

    async def checkout(self, update: Update, context: Context) -> None:
        """Checkout: one Checkout Session for the cart's lines on sale, its link in the chat."""
        query = update.callback_query
        if query is None:
            return
        user = query.from_user
        lang = await self.buyers.of(user)
        if wait := await self.tap_guard.wait_needed(user.id):
            await answer_tap(query, texts.slow_down(wait, lang), alert=True)
            return
        chat_id = query.message.chat.id if query.message is not None else user.id
        code = await self.buyers.code_of(user)
        buyer = Buyer(user.id, chat_id, name=user.full_name, username=user.username, language=code)
        async with self._cart_turn(user.id, CHECKING_OUT) as busy:
            if busy == CHECKING_OUT:  # another replica is checking this cart out
                await answer_tap(query, texts.cart_link_on_its_way(lang))
                return
            if busy is not None:  # another replica's change did not end in time
                await answer_tap(query, texts.cart_changing(lang), alert=True)
                return
            contents = await self.carts.contents(user.id)
            refusal = _refusal(contents, lang)
            if refusal is not None:
                await answer_tap(query, refusal, alert=True)
                return
            picks = contents.picks()
            if self.stars is not None and contents.currency == STARS:
                await self.stars.sell_cart(query, buyer, picks, lang)
                return
            decision = await self.purchases.decide_cart(buyer, picks, now=int(time.time()))
            products = {pick.product.id: pick.product for pick in picks}
            link_above = cart_texts.cart_link_below(lang)
            await self.carry_out(decision, query, products, lang, context, link_above=link_above)

    @asynccontextmanager
    async def _cart_turn(self, user_id: int, doing: str) -> AsyncIterator[str | None]:
        """The buyer's cart turn, taken for `doing`: None inside when this tap has it, else
        what another replica holds it for (CHECKING_OUT, or CHANGING for a change that did not
        end within CHANGE_WAIT_SECONDS)."""
        deadline = time.monotonic() + CHANGE_WAIT_SECONDS
        while True:
            async with self.tap_guard.one_at_a_time(user_id, CART_TURN, doing=doing) as mine:
                if mine:
                    yield None
                    return
            held_for = await self.tap_guard.held_for(user_id, CART_TURN)
            if held_for == CHECKING_OUT or time.monotonic() >= deadline:
                yield held_for or CHANGING
                return
            await asyncio.sleep(CHANGE_POLL_SECONDS)

    async def _show(self, query: CallbackQuery, context: Context) -> None:
        """Turn the tapped message into the buyer's cart (a photo card cannot become text: the
        cart comes as a new message then)."""
        lang = await self.buyers.of(query.from_user)
        text, markup = _cart_view(await self.carts.contents(query.from_user.id), lang)
        message = query.message
        if not isinstance(message, Message):
            return
        if message.photo:
            await context.bot.send_message(
                message.chat.id, text, parse_mode=ParseMode.HTML, reply_markup=markup
            )
            return
        try:
            await message.edit_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
        except BadRequest as exc:
            # A second tap on the same button: the message already shows this cart.
            if "not modified" not in exc.message:
                raise


def _cart_view(contents: CartContents, lang: Language) -> tuple[str, InlineKeyboardMarkup]:
    """The cart's text and buttons; an empty cart leads back to the shop."""
    if not contents.rows:
        shop = InlineKeyboardButton(texts.back_button(lang), callback_data=home_data(0))
        return cart_texts.cart_empty(lang), InlineKeyboardMarkup.from_button(shop)
    return cart_texts.cart_view(contents.rows, contents.total, lang), cart_keyboard(contents, lang)


def _refusal(contents: CartContents, lang: Language) -> str | None:
    """Why the cart cannot be checked out as it is; None when it can."""
    if not contents.for_sale:
        return (
            cart_texts.cart_empty(lang)
            if not contents.rows
            else cart_texts.nothing_to_check_out(lang)
        )
    for row in contents.for_sale:
        product = row.product
        if product is not None and row.line.quantity > product.max_per_order:
            return cart_texts.line_over_most(
                product.title_in(lang.code), product.max_per_order, lang
            )
    return None


def _change_refused(busy: str, lang: Language) -> str:
    """Why a change to the cart was not made: another replica checks it out, or changes it."""
    return texts.cart_busy(lang) if busy == CHECKING_OUT else texts.cart_changing(lang)


def _bound_text(product: Product, upper: int, left: int | None, lang: Language) -> str:
    """Which bound stops one more unit: none left, what is left, or `max_per_order`."""
    if left is not None and left <= 0:
        return texts.sold_out(lang)
    if left is not None and left < product.max_per_order:
        return texts.only_left(left, lang)
    return texts.at_most_per_order(product.max_per_order, lang)
