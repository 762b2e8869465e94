"""Browsing the shop: categories, pages of products, and product cards with a quantity picker.

Everything happens in one message that is edited as the buyer moves: a list is a text message;
a card with a photo turns it into a photo message (editMessageMedia can add a photo to a text
message, never take one away), so going back from such a card sends the list anew and deletes
the card.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from telegram import (
    CallbackQuery,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
    Update,
    User,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from bot.answers import answer_tap
from bot.buyer import texts
from bot.buyer.keyboards import (
    CARD_PREFIX,
    CATEGORY_PREFIX,
    HOME_PREFIX,
    IDLE,
    LIMIT_PREFIX,
    Entry,
    card_data,
    card_keyboard,
    category_data,
    home_data,
    list_keyboard,
    split_id_and_number,
)
from bot.buyer.language import BuyerLanguages
from bot.catalog.model import Catalog, LiveCatalog, Product, localized
from bot.handler_groups import ROOMS
from bot.i18n import Language
from storage import Storage

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
T = TypeVar("T")

# Buttons per page: a phone screen shows this many with room for the paging row.
PAGE_SIZE = 6


@dataclass(frozen=True, slots=True)
class View:
    """What one screen of the shop shows: text (or a caption), buttons, maybe a photo."""

    text: str
    markup: InlineKeyboardMarkup
    photo: str | None = None


def page_of(items: Sequence[T], page: int, size: int) -> tuple[Sequence[T], int, int]:
    """The items on `page` (clamped to the pages there are), that page, and how many pages."""
    pages = max(1, -(-len(items) // size))
    page = min(max(page, 0), pages - 1)
    return items[page * size : (page + 1) * size], page, pages


class Storefront:
    """The buyer's way through the catalog, from /shop to a card's Buy button."""

    def __init__(
        self,
        *,
        catalog: LiveCatalog,
        storage: Storage,
        buyers: BuyerLanguages,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.live = catalog
        self.storage = storage
        self.buyers = buyers
        self.page_size = page_size
        # Telegram fetches a photo URL once; later cards send the file id it gave back.
        self._photo_ids: dict[str, str] = {}

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        application.add_handlers(
            [
                CallbackQueryHandler(self.home, pattern=f"^{HOME_PREFIX}"),
                CallbackQueryHandler(self.category, pattern=f"^{CATEGORY_PREFIX}"),
                CallbackQueryHandler(self.card, pattern=f"^{CARD_PREFIX}"),
                CallbackQueryHandler(self.limit, pattern=f"^{LIMIT_PREFIX}"),
                CallbackQueryHandler(self.idle, pattern=f"^{IDLE}$"),
            ],
            group=ROOMS,
        )

    async def send_home(self, message: Message, user: User, greet: bool) -> None:
        """Answer /start or /shop with the shop's first page (greeting the buyer on /start)."""
        catalog, lang = self.live.current, await self.buyers.of(user)
        if not catalog.on_sale():
            await message.reply_html(texts.nothing_on_sale(catalog, lang))
            return
        intro = texts.greeting(catalog, user.first_name, lang) if greet else None
        view = await self._home_view(catalog, lang, 0, intro, user.id)
        await message.reply_html(view.text, reply_markup=view.markup)

    # Taps

    async def home(self, update: Update, context: Context) -> None:
        """A page of the shop's first level: categories, then products in none."""
        query = update.callback_query
        if query is None:
            return
        catalog, lang = self.live.current, await self.buyers.of(query.from_user)
        page = _number_after(query.data, HOME_PREFIX)
        await answer_tap(query)
        view = await self._home_view(catalog, lang, page, None, query.from_user.id)
        await self._show(query, view, context)

    async def category(self, update: Update, context: Context) -> None:
        """A page of one category's products; the shop's first page if it is gone."""
        query = update.callback_query
        if query is None:
            return
        catalog, lang = self.live.current, await self.buyers.of(query.from_user)
        try:
            category_id, page = split_id_and_number(query.data or "", CATEGORY_PREFIX)
        except ValueError:
            await answer_tap(query, texts.unknown_input(lang), alert=True)
            return
        await answer_tap(query)
        if catalog.category(category_id) is None or not catalog.in_category(category_id):
            view = await self._home_view(catalog, lang, 0, None, query.from_user.id)
        else:
            view = await self._category_view(catalog, category_id, lang, page)
        await self._show(query, view, context)

    async def card(self, update: Update, context: Context) -> None:
        """A product's card with the quantity chosen so far."""
        query = update.callback_query
        if query is None:
            return
        catalog, lang = self.live.current, await self.buyers.of(query.from_user)
        try:
            product_id, quantity = split_id_and_number(query.data or "", CARD_PREFIX)
        except ValueError:
            await answer_tap(query, texts.unknown_input(lang), alert=True)
            return
        product = catalog.get(product_id)
        if product is None or not product.active:
            await answer_tap(query, texts.product_unavailable(lang), alert=True)
            return
        await answer_tap(query)
        view = await self._card_view(catalog, product, quantity, lang, query.from_user.id)
        await self._show(query, view, context)

    async def limit(self, update: Update, context: Context) -> None:
        """The + of a card at its bound: say which bound."""
        query = update.callback_query
        if query is None:
            return
        lang = await self.buyers.of(query.from_user)
        product = self.live.current.get((query.data or "").removeprefix(LIMIT_PREFIX))
        if product is None:
            await answer_tap(query, texts.product_unavailable(lang), alert=True)
            return
        left = await self._left(product, query.from_user.id)
        if left is not None and left < product.max_per_order:
            await answer_tap(query, texts.only_left(left, lang), alert=True)
        else:
            await answer_tap(query, texts.at_most_per_order(product.max_per_order, lang))

    async def idle(self, update: Update, context: Context) -> None:
        """A button that only shows something: stop the spinner, change nothing."""
        if update.callback_query is not None:
            await answer_tap(update.callback_query)

    # Views

    async def _home_view(
        self, catalog: Catalog, lang: Language, page: int, intro: str | None, buyer_id: int
    ) -> View:
        loose = catalog.in_category(None)
        categories = catalog.categories_on_sale()
        left = await self.storage.stock_left(p.id for p in loose)
        entries = [
            Entry(localized(c.title, lang.code), category_data(c.id, 0)) for c in categories
        ] + [_product_entry(product, left, lang) for product in loose]
        shown, page, pages = page_of(entries, page, self.page_size)
        text = intro or texts.catalog_intro(catalog, lang)
        if pages > 1:
            text += "\n" + texts.page_of(page + 1, pages, lang)
        markup = list_keyboard(
            shown,
            previous=home_data(page - 1) if page > 0 else None,
            following=home_data(page + 1) if page + 1 < pages else None,
            back=None,
            lang=lang,
            cart_units=sum(line.quantity for line in await self.storage.cart(buyer_id)),
        )
        return View(text, markup)

    async def _category_view(
        self, catalog: Catalog, category_id: str, lang: Language, page: int
    ) -> View:
        category = catalog.category(category_id)
        assert category is not None
        products = catalog.in_category(category_id)
        left = await self.storage.stock_left(p.id for p in products)
        shown, page, pages = page_of(products, page, self.page_size)
        text = texts.category_intro(localized(category.title, lang.code), lang)
        if pages > 1:
            text += "\n" + texts.page_of(page + 1, pages, lang)
        markup = list_keyboard(
            [_product_entry(product, left, lang) for product in shown],
            previous=category_data(category_id, page - 1) if page > 0 else None,
            following=category_data(category_id, page + 1) if page + 1 < pages else None,
            back=home_data(self._home_page_of(catalog, category_id)),
            lang=lang,
        )
        return View(text, markup)

    async def _card_view(
        self, catalog: Catalog, product: Product, quantity: int, lang: Language, buyer_id: int
    ) -> View:
        left = await self._left(product, buyer_id)
        upper = product.max_per_order if left is None else min(product.max_per_order, left)
        quantity = min(max(quantity, 1), max(upper, 1))
        markup = card_keyboard(
            product.id, product.price, quantity, upper, self._back_from(catalog, product), lang
        )
        caption = texts.product_card(product, quantity, left, lang)
        return View(caption, markup, product.photo)

    async def _left(self, product: Product, buyer_id: int) -> int | None:
        """Units the buyer may choose: what is left, and what their own open link holds,
        since a link for another quantity replaces it."""
        if product.stock is None:
            return None
        own = await self.storage.open_link_for(buyer_id, product.id, int(time.time()))
        replacing = own.id if own is not None else None
        left = await self.storage.stock_left([product.id], replacing=replacing)
        return left.get(product.id, product.stock)

    def _back_from(self, catalog: Catalog, product: Product) -> str:
        """Where a card's Back goes: the page of the list that holds the product."""
        if product.category is not None and catalog.category(product.category) is not None:
            siblings = [p.id for p in catalog.in_category(product.category)]
            index = siblings.index(product.id) if product.id in siblings else 0
            return category_data(product.category, index // self.page_size)
        return home_data(self._home_page_of(catalog, product.id))

    def _home_page_of(self, catalog: Catalog, item_id: str) -> int:
        ids = [c.id for c in catalog.categories_on_sale()] + [
            p.id for p in catalog.in_category(None)
        ]
        return ids.index(item_id) // self.page_size if item_id in ids else 0

    # Showing

    async def _show(self, query: CallbackQuery, view: View, context: Context) -> None:
        """Turn the tapped message into `view`, the way Telegram allows."""
        message = query.message
        if not isinstance(message, Message):
            return
        try:
            if view.photo is not None and await self._show_photo(message, view):
                return
            if message.photo:
                await self._replace_photo_message(message, view, context)
            else:
                await message.edit_text(
                    view.text, parse_mode=ParseMode.HTML, reply_markup=view.markup
                )
        except BadRequest as exc:
            # A second tap on the same button: the message already shows this view.
            if "not modified" not in exc.message:
                raise

    async def _show_photo(self, message: Message, view: View) -> bool:
        """Show a card with its photo; False when Telegram cannot get the photo."""
        assert view.photo is not None
        if message.photo:
            await message.edit_caption(
                view.text, parse_mode=ParseMode.HTML, reply_markup=view.markup
            )
            return True
        media = InputMediaPhoto(
            self._photo_ids.get(view.photo, view.photo), caption=view.text, parse_mode="HTML"
        )
        try:
            edited = await message.edit_media(media, reply_markup=view.markup)
        except BadRequest as exc:
            if "not modified" in exc.message:
                raise
            log.warning("photo %s could not be shown: %s", view.photo, exc.message)
            return False
        if isinstance(edited, Message) and edited.photo:
            self._photo_ids[view.photo] = edited.photo[-1].file_id
        return True

    async def _replace_photo_message(self, message: Message, view: View, context: Context) -> None:
        """A photo cannot be edited away: send the view anew, then delete the photo card."""
        await context.bot.send_message(
            message.chat.id, view.text, parse_mode=ParseMode.HTML, reply_markup=view.markup
        )
        try:
            await message.delete()
        except TelegramError as exc:
            # Older than 48 hours: it stays, and its buttons keep working.
            log.info("could not delete a product card: %s", exc)


def _product_entry(product: Product, left: dict[str, int], lang: Language) -> Entry:
    title = product.title_in(lang.code)
    if product.id in left and left[product.id] <= 0:
        return Entry(texts.sold_out_button(title, lang), card_data(product.id, 1))
    return Entry(texts.product_button(title, product.price, lang.locale), card_data(product.id, 1))


def _number_after(data: str | None, prefix: str) -> int:
    number = (data or "").removeprefix(prefix)
    return int(number) if number.isdecimal() else 0
