"""A buyer's cart checked out by one replica while a change to it reaches another: the change
is refused with a word to the buyer, not made after the checkout read the cart (the link would
not hold it) nor lost; once the link is made, changes go through again."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from bot.buyer.texts import cart_busy, cart_changing
from bot.catalog.model import Catalog
from bot.i18n import language
from bot.service import Service
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from tests.buyer.steps import add_to_cart, lamps, line_button, open_cart
from tests.databases import fetch
from tests.helpers import answer_to, from_now_on, next_message, until

CART_OF = (
    "SELECT product_id, quantity FROM cart_lines WHERE telegram_user_id = $1 ORDER BY position"
)


@pytest.fixture
def catalog() -> Catalog:
    return lamps()


async def cart_of(url: str, user_id: int) -> list[tuple[str, int]]:
    return [(row["product_id"], row["quantity"]) for row in await fetch(url, CART_OF, user_id)]


@asynccontextmanager
async def cart_lines_locked(url: str, user_id: int) -> AsyncIterator[None]:
    """The buyer's cart lines locked by another session for the block (a slow database): a
    change to them waits, holding the cart's turn, until the block ends."""
    connection = await asyncpg.connect(url)
    try:
        async with connection.transaction():
            await connection.execute(
                "SELECT 1 FROM cart_lines WHERE telegram_user_id = $1 FOR UPDATE", user_id
            )
            yield
    finally:
        await connection.close()


async def change_under_way(
    telegram: TelegramEmulator, url: str, ada: Any, cart: dict[str, Any]
) -> None:
    """Ada's + on the lamp, on the first replica, stuck in the database holding the turn."""
    await telegram.tap(ada, cart, line_button(cart, "lamp", "+"))

    async def turn_held() -> bool:
        return bool(await fetch(url, "SELECT 1 FROM buy_turns WHERE telegram_user_id = $1", ada.id))

    await until(turn_held, what="the change holding the cart's turn", every=0.02)


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


async def test_a_checkout_meeting_a_long_change_on_another_replica_is_told_to_try_again(
    two_shops: tuple[TelegramEmulator, Service, Service],
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    postgres_url: str,
) -> None:
    """No link is on its way: the turn is held by a change, which outlasts the tap's wait."""
    other, _, _ = two_shops
    ada = telegram.user(4242, "Ada")
    ada_elsewhere = other.user(ada.id, "Ada")
    await add_to_cart(telegram, ada, "Lamp")
    cart = await open_cart(telegram, ada)

    async with cart_lines_locked(postgres_url, ada.id):
        await change_under_way(telegram, postgres_url, ada, cart)
        answer = await answer_to(other, await other.forge_tap(ada_elsewhere, cart, "checkout"))
        assert await fetch(postgres_url, "SELECT id FROM orders") == []
    assert (answer["show_alert"], answer.get("text")) == (True, cart_changing(language("en")))
    assert not [r for r in stripe_api.requests if r.method == "POST"]

    # The change lands; then a checkout on the other replica makes the link for it.
    async def changed() -> bool:
        return await cart_of(postgres_url, ada.id) == [("lamp", 2)]

    await until(changed, what="the lamp's + applied")
    elsewhere = from_now_on(other)
    await other.forge_tap(ada_elsewhere, cart, "checkout")
    await next_message(other, ada_elsewhere, with_buttons="url", after=elsewhere)
    lines = await fetch(postgres_url, "SELECT product_id, quantity FROM order_lines")
    assert [(line["product_id"], line["quantity"]) for line in lines] == [("lamp", 2)]


async def test_a_checkout_meeting_a_short_change_on_another_replica_waits_for_it(
    two_shops: tuple[TelegramEmulator, Service, Service],
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    postgres_url: str,
) -> None:
    """The change ends while the checkout waits for the turn: the link is made, for the cart
    as the change left it."""
    other, _, _ = two_shops
    ada = telegram.user(4242, "Ada")
    ada_elsewhere = other.user(ada.id, "Ada")
    await add_to_cart(telegram, ada, "Lamp")
    cart = await open_cart(telegram, ada)

    async def taps_counted() -> int:
        (row,) = await fetch(postgres_url, "SELECT taps FROM buyer_taps")
        return len(json.loads(row["taps"]))

    elsewhere = from_now_on(other)
    async with cart_lines_locked(postgres_url, ada.id):
        await change_under_way(telegram, postgres_url, ada, cart)
        counted = await taps_counted()
        tap = await other.forge_tap(ada_elsewhere, cart, "checkout")

        async def checkout_counted() -> bool:
            return await taps_counted() > counted

        # Past the tap guard's count, it meets the change's turn.
        await until(checkout_counted, what="the checkout tap counted")
    answer = await answer_to(other, tap)
    assert answer.get("text") is None
    await next_message(other, ada_elsewhere, with_buttons="url", after=elsewhere)
    lines = await fetch(postgres_url, "SELECT product_id, quantity FROM order_lines")
    assert [(line["product_id"], line["quantity"]) for line in lines] == [("lamp", 2)]


async def test_a_change_meeting_a_long_change_on_another_replica_is_not_said_a_checkout(
    two_shops: tuple[TelegramEmulator, Service, Service],
    telegram: TelegramEmulator,
    postgres_url: str,
) -> None:
    other, _, _ = two_shops
    ada = telegram.user(4242, "Ada")
    ada_elsewhere = other.user(ada.id, "Ada")
    await add_to_cart(telegram, ada, "Lamp")
    cart = await open_cart(telegram, ada)

    async with cart_lines_locked(postgres_url, ada.id):
        await change_under_way(telegram, postgres_url, ada, cart)
        answer = await answer_to(other, await other.forge_tap(ada_elsewhere, cart, "emptycart"))
    assert (answer["show_alert"], answer.get("text")) == (True, cart_changing(language("en")))

    async def changed() -> bool:
        return await cart_of(postgres_url, ada.id) == [("lamp", 2)]

    await until(changed, what="the lamp's + applied, the cart not emptied")
