"""Inline keyboards, and the callback data they carry (at most 64 bytes, checked by Telegram)."""

from __future__ import annotations

from collections.abc import Sequence

from babel import Locale
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import texts
from bot.catalog import Product
from bot.money import Money

BUY_PREFIX = "buy:"


def buy_data(product_id: str) -> str:
    return BUY_PREFIX + product_id


def product_id_from(data: str) -> str | None:
    """The product a "buy:" button names; None for data this bot never sends."""
    if data.startswith(BUY_PREFIX):
        return data.removeprefix(BUY_PREFIX) or None
    return None


def catalog_keyboard(
    products: Sequence[Product], language: str | None, locale: Locale
) -> InlineKeyboardMarkup:
    """One button per product: title and formatted price."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts.product_button(product.title_in(language), product.price, locale),
                    callback_data=buy_data(product.id),
                )
            ]
            for product in products
        ]
    )


def pay_keyboard(url: str, amount: Money, locale: Locale) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(texts.pay_button(amount, locale), url=url)]])


def product_again_keyboard(product_id: str, label: str) -> InlineKeyboardMarkup:
    """One button that asks for a new link for the same product."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=buy_data(product_id))]])
