"""Browsing the shop: categories, pages, Back, product cards with photos, the quantity picker."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest

from bot.buyer import texts
from bot.buyer.storefront import PAGE_SIZE
from bot.buyer.texts import internal_error
from bot.catalog.model import Catalog, Product, parse_catalog
from bot.i18n import language
from bot.money import Money
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from tests.helpers import (
    button_for,
    button_with,
    buttons,
    from_now_on,
    next_message,
    open_card,
    open_catalog,
    png,
    rows,
    sent_after,
    snapshot,
    tap_and_see,
    tap_product,
)

PHOTO_URL = "https://shop.example/tee.png"
EXTRA = 2  # products beyond the first page


def tee(number: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"tee-{number}",
        "title": {"en": f"Tee {number}", "fr": f"T-shirt {number}"},
        "price": f"{20 + number}.50",
        "currency": "usd",
        "category": "tees",
        "sort": number,
        **fields,
    }


def shop_catalog(*products: dict[str, Any]) -> Catalog:
    data = {
        "shop": {"name": "Tee shop"},
        "categories": [{"id": "tees", "title": {"en": "Tees", "fr": "T-shirts"}}],
        "products": list(products)
        or [tee(n) for n in range(1, PAGE_SIZE + EXTRA + 1)]
        + [{"id": "gift-card", "title": "Gift card", "price": "50", "currency": "usd"}],
    }
    return parse_catalog(data, source="test.toml")


@pytest.fixture
def open_shop(
    make_settings: Callable[..., Settings], stripe_api: StripeEmulator, seconds_per_chat: float
) -> Callable[[Catalog], Any]:
    """Run the shop with a given catalog: `async with open_shop(catalog) as shop:`."""

    def run(catalog: Catalog) -> Any:
        service = Service(make_settings(), catalog, seconds_per_chat=seconds_per_chat)
        return _Running(service, stripe_api)

    return run


class _Running:
    def __init__(self, service: Service, stripe_api: StripeEmulator) -> None:
        self.service, self.stripe_api = service, stripe_api

    async def __aenter__(self) -> Service:
        await self.service.start()
        self.stripe_api.webhook_url = f"{self.service.http_url}/stripe/webhook"
        return self.service

    async def __aexit__(self, *exc_info: object) -> None:
        await self.service.stop()


@pytest.fixture
async def tee_shop(open_shop: Callable[[Catalog], Any]) -> AsyncIterator[Service]:
    async with open_shop(shop_catalog()) as service:
        yield service


async def test_categories_then_pages_of_products_then_back(
    tee_shop: Service, telegram: TelegramEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    catalog = tee_shop.live_catalog.current
    home = await open_catalog(telegram, ada)
    # The first level: the category, then the product in none.
    assert [b["text"] for b in buttons(home)] == ["Tees", "Gift card — $50.00"]

    first = await tap_and_see(telegram, ada, home, button_for(home, "Tees")["callback_data"])
    assert first["message_id"] == home["message_id"]  # the same message, edited
    tees = catalog.in_category("tees")
    titles = [b["text"].split(" — ")[0] for b in buttons(first) if b["callback_data"][:2] == "p:"]
    assert titles == [p.title_in("en") for p in tees[:PAGE_SIZE]]
    assert "Page 1 of 2" in first["text"]
    assert "Previous" not in str(buttons(first))

    second = await tap_and_see(telegram, ada, first, button_for(first, "Next")["callback_data"])
    titles = [b["text"].split(" — ")[0] for b in buttons(second) if b["callback_data"][:2] == "p:"]
    assert titles == [p.title_in("en") for p in tees[PAGE_SIZE:]]
    assert "Next" not in str(buttons(second))

    back = await tap_and_see(
        telegram, ada, second, button_for(second, "‹ Previous")["callback_data"]
    )
    assert buttons(back) == buttons(first)
    again = await tap_and_see(telegram, ada, back, button_for(back, "« Back")["callback_data"])
    assert buttons(again) == buttons(home)


async def test_a_card_on_the_second_page_goes_back_to_that_page(
    tee_shop: Service, telegram: TelegramEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    last = tee_shop.live_catalog.current.in_category("tees")[-1].title_in("en")
    card = await open_card(telegram, ada, last)
    assert card["text"].startswith(last)  # no photo: a text card
    listing = await tap_and_see(telegram, ada, card, button_for(card, "« Back")["callback_data"])
    assert any(b["text"].startswith(last) for b in buttons(listing))
    assert "Page 2 of 2" in listing["text"]


async def test_a_card_shows_the_photo_with_title_description_and_price(
    open_shop: Callable[[Catalog], Any], telegram: TelegramEmulator
) -> None:
    image = png(640, 480)
    telegram.web_files[PHOTO_URL] = image
    catalog = shop_catalog(tee(1, photo=PHOTO_URL, description={"en": "Soft", "fr": "Doux"}))
    async with open_shop(catalog):
        marie = telegram.user(5151, "Marie", language_code="fr")
        card = await open_card(telegram, marie, "T-shirt 1")
        assert card["photo"] and "text" not in card
        assert card["caption"].splitlines() == ["T-shirt 1", "", "Doux", "", "21,50\xa0$US"]
        assert telegram.photos_to(marie.id) == [image]

        # + edits the caption and the total; the photo stays.
        more = await tap_and_see(telegram, marie, card, card_button(card, "+"))
        total = (Money.parse("21.50", "usd") * 2).format(language("fr").locale)
        assert f"Quantité : 2 · Total : {total}" in more["caption"]
        assert button_with(more, "buy:")["text"] == f"Acheter — {total}"
        assert [c.method for c in telegram.calls if c.method.startswith("edit")][-1] == (
            "editMessageCaption"
        )

        # Back cannot take the photo away: the list comes as a new message, the card goes.
        after = from_now_on(telegram)
        await telegram.tap(marie, more, button_for(more, "« Retour")["callback_data"])
        listing = await next_message(telegram, marie, with_buttons="callback_data", after=after)
        await telegram.wait_for("deleteMessage", after)
        assert "T-shirts" in listing["text"]
        shown = [m["message_id"] for m in telegram.messages_to(marie.id)]
        assert card["message_id"] not in shown and listing["message_id"] in shown

        # The second time, Telegram gets the photo it already has (its file id), not the URL.
        again = await tap_and_see(
            telegram, marie, listing, button_with(listing, "p:")["callback_data"]
        )
        (edit,) = [c for c in telegram.calls_to("editMessageMedia") if after(c) and c.status == 200]
        assert edit.params["media"]["media"] == card["photo"][-1]["file_id"]
        assert again["photo"][-1]["file_id"] == card["photo"][-1]["file_id"]


async def test_a_photo_telegram_cannot_fetch_gives_a_text_card(
    open_shop: Callable[[Catalog], Any], telegram: TelegramEmulator
) -> None:
    async with open_shop(shop_catalog(tee(1, photo="https://shop.example/missing.png"))):
        ada = telegram.user(4242, "Ada")
        card = await open_card(telegram, ada, "Tee 1")
        assert card["text"].startswith("Tee 1") and "$21.50" in card["text"]
        assert button_with(card, "buy:")


def card_button(card: dict[str, Any], label: str) -> str:
    (button,) = [b for b in buttons(card) if b["text"] == label]
    data: str = button["callback_data"]
    return data


async def test_the_quantity_is_bounded_by_the_per_order_maximum(
    open_shop: Callable[[Catalog], Any], telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    async with open_shop(shop_catalog(tee(1, max_per_order=2))) as shop:
        ada = telegram.user(4242, "Ada")
        card = await open_card(telegram, ada, "Tee 1")
        at_one = card_button(card, "−")
        assert at_one == "x"  # nothing below 1
        card = await tap_and_see(telegram, ada, card, card_button(card, "+"))
        assert "Quantity: 2" in card["text"]
        update = await telegram.tap(ada, card, card_button(card, "+"))
        (answer,) = await telegram.wait_for(
            "answerCallbackQuery",
            lambda c: c.params["callback_query_id"] == update["callback_query"]["id"],
        )
        assert answer.params["text"] == "At most 2 per order."

        pay_message = await tap_product(telegram, ada, "Tee 1", quantity=2)
        (session,) = stripe_api.sessions.values()
        (order,) = rows(shop.settings.database_path, "SELECT * FROM orders")
        assert order["quantity"] == 2
        assert order["amount_total"] == Money.parse("21.50", "usd").minor * 2
        assert session["amount_total"] == order["amount_total"]
        assert session["url"] == buttons(pay_message)[0]["url"]
        (request,) = [
            r
            for r in stripe_api.requests
            if (r.method, r.path) == ("POST", "/v1/checkout/sessions")
        ]
        assert request.params["line_items"][0]["quantity"] == "2"
        assert request.params["allow_promotion_codes"] == "true"


@pytest.mark.parametrize("data", ["buy:tee-1:3", "buy:tee-1:0", "buy:tee-1:x", "p:tee-1"])
async def test_a_forged_quantity_is_refused_and_changes_nothing(
    open_shop: Callable[[Catalog], Any],
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    data: str,
) -> None:
    async with open_shop(shop_catalog(tee(1, max_per_order=2))) as shop:
        ada = telegram.user(4242, "Ada")
        card = await open_card(telegram, ada, "Tee 1")
        before = snapshot(shop.settings.database_path)
        update = await telegram.forge_tap(ada, card, data)
        query_id = update["callback_query"]["id"]
        (answer,) = await telegram.wait_for(
            "answerCallbackQuery", lambda c: c.params["callback_query_id"] == query_id
        )
        assert answer.params.get("show_alert") is True and answer.params["text"]
        assert snapshot(shop.settings.database_path) == before
    assert not stripe_api.sessions


def test_a_card_fits_a_photo_caption_whatever_the_description() -> None:
    """Descriptions read from Stripe have no limit of their own: the card cuts them."""
    long = Product("lamp", "Lamp", Money(3000, "eur"), description="word " * 1000, stock=3)
    caption = texts.product_card(long, 99, 2, language("fr"))
    visible = re.sub(r"<[^>]+>", "", caption)
    assert len(visible) <= 1024
    assert "word word…" in visible and "Total" in visible

    titled = replace(long, title="Handmade brass desk lamp " * 20)  # 500 characters
    visible = re.sub(r"<[^>]+>", "", texts.product_card(titled, 99, 2, language("fr")))
    assert len(visible) <= 1024
    assert visible.startswith("Handmade brass desk lamp") and "Total" in visible


PHOTO_URL = "https://shop.example/lamp.png"


def lamp_shop(**fields: Any) -> Catalog:
    product = {"id": "lamp", "title": "Lamp", "price": "30.00", "currency": "eur"}
    return parse_catalog(
        {"shop": {"name": "Lamps"}, "products": [product | fields]}, source="test.toml"
    )


async def test_picking_a_quantity_on_a_photo_card_with_a_long_title_works(
    make_settings: Callable[..., Settings], telegram: TelegramEmulator
) -> None:
    telegram.web_files[PHOTO_URL] = png(64, 48)
    title = "Lamp " + " ".join(["handmade brass desk lamp with linen shade"] * 7)  # 300 chars
    catalog = lamp_shop(title=title[:300], description="Warm light. " * 58, photo=PHOTO_URL)
    async with Service(make_settings(), catalog):
        ada = telegram.user(4242, "Ada")
        card = await open_card(telegram, ada, "Lamp")
        assert card.get("photo"), "the card opens as a photo card (its caption fits)"
        (more,) = [b for b in buttons(card) if b["text"] == "+"]
        after = from_now_on(telegram)
        await telegram.tap(ada, card, more["callback_data"])
        sorry = internal_error(language("en"))

        def quantity_shown() -> bool:
            return any(
                "Quantity: 2" in (m.get("caption") or m.get("text") or "")
                for m in telegram.messages_to(ada.id)
            )

        def apologised() -> bool:
            return any(m["text"] == sorry for m in sent_after(telegram, ada, after))

        await telegram.wait_until(lambda: quantity_shown() or apologised(), timeout=10)
        refused = [
            c.response.get("description")
            for c in telegram.calls
            if after(c) and c.method.startswith("edit") and c.status != 200
        ]
        assert quantity_shown() and not apologised(), f"the buyer got {sorry!r}: {refused}"
