"""A buyer's cart checked out by one replica while a change to it reaches another: the change
is refused with a word to the buyer, not made after the checkout read the cart (the link would
not hold it) nor lost; once the link is made, changes go through again."""

from __future__ import annotations

from typing import Any

import pytest

from bot.buyer.texts import cart_busy
from bot.catalog.model import Catalog
from bot.i18n import language
from bot.service import Service
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from tests.buyer.steps import add_to_cart, lamps, line_button, open_cart
from tests.databases import fetch
from tests.helpers import answer_to, from_now_on, next_message

CART_OF = (
    "SELECT product_id, quantity FROM cart_lines WHERE telegram_user_id = $1 ORDER BY position"
)


@pytest.fixture
def catalog() -> Catalog:
    return lamps()


async def cart_of(url: str, user_id: int) -> list[tuple[str, int]]:
    return [(row["product_id"], row["quantity"]) for row in await fetch(url, CART_OF, user_id)]


async def test_a_change_reaching_another_replica_during_the_checkout_is_refused(
    two_shops: tuple[TelegramEmulator, Service, Service],
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    postgres_url: str,
) -> None:
    other, _, _ = two_shops
    ada = telegram.user(4242, "Ada")
    ada_elsewhere = other.user(ada.id, "Ada")
    await add_to_cart(telegram, ada, "Lamp")
    cart = await open_cart(telegram, ada)
    changes: list[str] = [
        line_button(cart, "lamp", "+"),
        line_button(cart, "lamp", "✕"),
        "emptycart",
        "add:bulb:1",
    ]

    stripe_api.hold_requests()
    answers: list[dict[str, Any]] = []
    try:
        after = from_now_on(telegram)
        await telegram.tap(ada, cart, "checkout")
        await stripe_api.wait_until_held()
        for data in changes:
            answers.append(await answer_to(other, await other.forge_tap(ada_elsewhere, cart, data)))
        assert await cart_of(postgres_url, ada.id) == [("lamp", 1)]
    finally:
        stripe_api.release_requests()
    busy = cart_busy(language("en"))
    assert [(answer["show_alert"], answer.get("text")) for answer in answers] == [
        (True, busy)
    ] * len(changes)
    await next_message(telegram, ada, with_buttons="url", after=after)
    assert len(await fetch(postgres_url, "SELECT id FROM orders")) == 1
    lines = await fetch(postgres_url, "SELECT product_id, quantity FROM order_lines")
    assert [(line["product_id"], line["quantity"]) for line in lines] == [("lamp", 1)]
    assert await cart_of(postgres_url, ada.id) == [("lamp", 1)]

    # The link is out: a change on the other replica goes through.
    elsewhere = from_now_on(other)
    answer = await answer_to(other, await other.forge_tap(ada_elsewhere, cart, "add:bulb:1"))
    assert answer.get("text") is None
    await next_message(other, ada_elsewhere, text="In your cart: Bulb × 1", after=elsewhere)
    assert await cart_of(postgres_url, ada.id) == [("lamp", 1), ("bulb", 1)]
