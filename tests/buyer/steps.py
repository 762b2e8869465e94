"""What the cart tests share: a shop of lamps in euros and a tee in dollars, and a buyer's steps
(add from a card, open the cart, tap a line's button, check out)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.catalog.model import Catalog, parse_catalog
from sandbox.telegram_api import TelegramEmulator, TgUser
from tests.helpers import (
    answer_to,
    button_with,
    buttons,
    card_with_quantity,
    from_now_on,
    next_message,
    open_card,
    rows,
)

LAMPS = {
    "shop": {"name": "Lamps"},
    "products": [
        {"id": "lamp", "title": "Lamp", "price": "30.00", "currency": "eur", "stock": 3},
        {"id": "bulb", "title": "Bulb", "price": "2.50", "currency": "eur", "stock": 10},
        {"id": "shade", "title": "Shade", "price": "9.00", "currency": "eur", "max_per_order": 2},
        {"id": "tee", "title": "Tee", "price": "20.00", "currency": "usd"},
    ],
}


def lamps(**changes: dict[str, Any]) -> Catalog:
    """The lamp shop, with some products' fields changed ({"lamp": {"price": "35.00"}})."""
    products = [product | changes.get(product["id"], {}) for product in LAMPS["products"]]
    return parse_catalog({**LAMPS, "products": products}, source="lamps.toml")


def lamps_toml(**changes: dict[str, Any]) -> str:
    """The same shop as a catalog file, for a reload."""
    parts = ['[shop]\nname = "Lamps"\n']
    for product in LAMPS["products"]:
        fields = product | changes.get(product["id"], {})
        parts.append(
            "[[products]]\n"
            + "".join(f"{key} = {json.dumps(value)}\n" for key, value in fields.items())
        )
    return "\n".join(parts)


async def add_to_cart(
    telegram: TelegramEmulator, user: TgUser, title: str, quantity: int = 1
) -> dict[str, Any]:
    """Open the product's card, pick the quantity, tap Add to cart; the bot's answer."""
    card = await card_with_quantity(telegram, user, title, quantity)
    after = from_now_on(telegram)
    await telegram.tap(user, card, button_with(card, "add:")["callback_data"])
    return await next_message(telegram, user, after=after)


async def add_to_cart_refused(telegram: TelegramEmulator, user: TgUser, title: str) -> str:
    """Tap Add to cart on the product's card, expecting a refusal; its alert's text."""
    card = await open_card(telegram, user, title)
    update = await telegram.tap(user, card, button_with(card, "add:")["callback_data"])
    answer = await answer_to(telegram, update)
    assert answer["show_alert"], answer
    text: str = answer["text"]
    return text


async def open_cart(telegram: TelegramEmulator, user: TgUser) -> dict[str, Any]:
    after = from_now_on(telegram)
    await telegram.send_text(user, "/cart")
    return await next_message(telegram, user, after=after)


def line_button(cart: dict[str, Any], product_id: str, label: str) -> str:
    """The data of a line's − / + / ✕ button."""
    found = [
        b["callback_data"]
        for b in buttons(cart)
        if b["text"] == label and b["callback_data"].startswith(f"cl:{product_id}:")
    ]
    assert len(found) == 1, f"one {label} for {product_id} expected, got {buttons(cart)}"
    return found[0]


async def checkout(
    telegram: TelegramEmulator, user: TgUser, cart: dict[str, Any]
) -> dict[str, Any]:
    """Tap the cart's Checkout; the message with Pay."""
    after = from_now_on(telegram)
    await telegram.tap(user, cart, "checkout")
    return await next_message(telegram, user, with_buttons="url", after=after)


def cart_rows(database: Path, user_id: int) -> list[tuple[str, int]]:
    """The buyer's stored cart: (product, quantity) in the order added."""
    found = rows(
        database,
        "SELECT product_id, quantity FROM cart_lines WHERE telegram_user_id = ? ORDER BY position",
        user_id,
    )
    return [(row["product_id"], row["quantity"]) for row in found]


def lines_of(database: Path, order_id: int) -> list[tuple[str, int, int]]:
    """An order's stored lines: (product, unit amount, quantity)."""
    found = rows(
        database,
        "SELECT product_id, unit_amount, quantity FROM order_lines WHERE order_id = ?"
        " ORDER BY line_no",
        order_id,
    )
    return [(row["product_id"], row["unit_amount"], row["quantity"]) for row in found]
