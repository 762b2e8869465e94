"""CATALOG_SOURCE=stripe: the shop sells the Stripe account's active Products at their Prices."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.buyer import texts
from bot.i18n import language
from bot.money import Money
from bot.service import Service, StartupError
from bot.settings import CatalogSource, Settings, describe_validation_error
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from tests.catalog.steps import reload_as
from tests.helpers import (
    ADMIN_ID,
    button_for,
    button_with,
    buttons,
    from_now_on,
    next_message,
    open_card,
    open_catalog,
    rows,
    session_behind,
    tap_and_see,
    tap_product,
)
from tests.processes import finish, run_bot, valid

SHOP_NAME = "Natours"


def stock(stripe_api: StripeEmulator) -> dict[str, dict[str, Any]]:
    """An account as an owner keeps it, with what the shop must leave out."""
    made = {
        "hiker": stripe_api.add_product(
            id="forest-hiker",
            name="The Forest Hiker",
            description="Breathtaking hike",
            images=["https://example.com/forest-hiker.jpg"],
            metadata={
                "category": "tours",
                "category_title": "Tours",
                "category_title_fr": "Circuits",
                "title_fr": "Le Randonneur des Bois",
                "stock": "3",
                "max_per_order": "2",
                "sort": "10",
            },
            default_price={"unit_amount": 39700, "currency": "usd"},
        ),
        "sea": stripe_api.add_product(
            name="The Sea Explorer", default_price={"unit_amount": 49700, "currency": "usd"}
        ),
        "archived": stripe_api.add_product(
            name="The Old Tour",
            active=False,
            default_price={"unit_amount": 10000, "currency": "usd"},
        ),
        "no price": stripe_api.add_product(name="The Unpriced Tour"),
        "archived price": stripe_api.add_product(
            name="The Repriced Tour", default_price={"unit_amount": 20000, "currency": "usd"}
        ),
        "free": stripe_api.add_product(
            name="The Free Walk", default_price={"unit_amount": 0, "currency": "usd"}
        ),
        "long id": stripe_api.add_product(
            id="a-product-id-much-longer-than-32-chars",
            name="The Long Tour",
            default_price={"unit_amount": 30000, "currency": "usd"},
        ),
        "bad stock": stripe_api.add_product(
            name="The Vague Tour",
            metadata={"stock": "a few"},
            default_price={"unit_amount": 30000, "currency": "usd"},
        ),
    }
    # The owner archived this price in the Dashboard after making it the default.
    stripe_api.prices[made["archived price"]["default_price"]]["active"] = False
    return made


LEFT_OUT = [
    "The Old Tour",
    "The Unpriced Tour",
    "The Repriced Tour",
    "The Free Walk",
    "The Long Tour",
    "The Vague Tour",
]


@pytest.fixture
def stripe_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        return make_settings(catalog_source="stripe", shop_name=SHOP_NAME, **overrides)

    return make


@pytest.fixture
async def stripe_shop(
    stripe_settings: Callable[..., Settings], stripe_api: StripeEmulator, seconds_per_chat: float
) -> AsyncIterator[Service]:
    stock(stripe_api)
    async with Service(stripe_settings(), seconds_per_chat=seconds_per_chat) as service:
        stripe_api.webhook_url = f"{service.http_url}/stripe/webhook"
        yield service


def labels(message: dict[str, Any]) -> list[str]:
    return [button["text"] for button in buttons(message)]


async def test_the_shop_lists_the_active_products_at_their_stripe_prices(
    stripe_shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada")

    home = await open_catalog(telegram, ada)
    tours = await tap_and_see(telegram, ada, home, button_for(home, "Tours")["callback_data"])

    sea_product = stripe_api.products[product_named(stripe_api, "Sea")]
    sea = stripe_api.prices[sea_product["default_price"]]
    assert any(
        label.startswith("The Sea Explorer") and Money(sea["unit_amount"], "usd").format() in label
        for label in labels(home)
    )
    hiker = stripe_api.prices[stripe_api.products["forest-hiker"]["default_price"]]
    assert any(
        label.startswith("The Forest Hiker")
        and Money(hiker["unit_amount"], "usd").format() in label
        for label in labels(tours)
    )
    for title in LEFT_OUT:
        assert not any(label.startswith(title) for label in labels(home) + labels(tours))
    assert "Natours" in home["text"]


def product_named(stripe_api: StripeEmulator, word: str) -> str:
    (product_id,) = [p["id"] for p in stripe_api.products.values() if word in p["name"]]
    return product_id


async def test_what_is_left_out_is_named_in_the_log(
    stripe_settings: Callable[..., Settings],
    stripe_api: StripeEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    made = stock(stripe_api)
    with caplog.at_level(logging.WARNING, logger="bot.catalog.from_stripe"):
        async with Service(stripe_settings()) as shop:
            catalog = shop.live_catalog.current

    warned = "\n".join(record.getMessage() for record in caplog.records)
    for which in ("no price", "archived price", "free", "long id", "bad stock"):
        assert made[which]["id"] in warned, which
    assert "'stock'" in warned and "no default price" in warned and "archived" in warned
    assert made["archived"]["id"] not in warned, "an archived product is not even listed"
    assert sorted(p.id for p in catalog.products) == sorted(["forest-hiker", made["sea"]["id"]])


async def test_metadata_sets_the_fields_the_file_would(stripe_shop: Service) -> None:
    hiker = stripe_shop.live_catalog.current.get("forest-hiker")

    assert hiker is not None
    assert (hiker.stock, hiker.max_per_order, hiker.sort, hiker.category) == (3, 2, 10, "tours")
    assert hiker.title_in("fr") == "Le Randonneur des Bois"
    assert hiker.title_in("de") == "The Forest Hiker"
    assert hiker.description_in("en") == "Breathtaking hike"
    assert hiker.photo == "https://example.com/forest-hiker.jpg"


async def test_a_french_buyer_sees_the_french_titles(
    stripe_shop: Service, telegram: TelegramEmulator
) -> None:
    marie = telegram.user(4343, "Marie", language_code="fr")

    home = await open_catalog(telegram, marie)
    tours = await tap_and_see(telegram, marie, home, button_for(home, "Circuits")["callback_data"])

    assert any(label.startswith("Le Randonneur des Bois") for label in labels(tours))
    price = Money(39700, "usd").format(language("fr").locale)
    assert any(price in label for label in labels(tours))


async def test_a_tap_charges_the_stripe_price_by_id(
    stripe_shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    price = stripe_api.prices[stripe_api.products["forest-hiker"]["default_price"]]

    session = session_behind(stripe_api, await tap_product(telegram, ada, "The Forest Hiker", 2))

    (created,) = [
        r for r in stripe_api.requests if (r.method, r.path) == ("POST", "/v1/checkout/sessions")
    ]
    assert created.params["line_items"] == [{"price": price["id"], "quantity": "2"}]
    assert session["amount_total"] == 2 * price["unit_amount"]
    assert session["metadata"]["product_id"] == "forest-hiker"


async def test_a_cart_of_stripe_products_charges_each_price_by_id(
    stripe_shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    for title in ("The Forest Hiker", "The Sea Explorer"):  # in the order they are added
        card = await open_card(telegram, ada, title)
        after = from_now_on(telegram)
        await telegram.tap(ada, card, button_with(card, "add:")["callback_data"])
        await next_message(telegram, ada, text="In your cart", after=after)
    after = from_now_on(telegram)
    await telegram.send_text(ada, "/cart")
    cart = await next_message(telegram, ada, after=after)
    after = from_now_on(telegram)
    await telegram.tap(ada, cart, "checkout")
    session = session_behind(
        stripe_api, await next_message(telegram, ada, with_buttons="url", after=after)
    )

    names = ("The Forest Hiker", "The Sea Explorer")
    by_name = {product["name"]: product for product in stripe_api.products.values()}
    prices = [by_name[name]["default_price"] for name in names]
    (created,) = [
        r for r in stripe_api.requests if (r.method, r.path) == ("POST", "/v1/checkout/sessions")
    ]
    assert created.params["line_items"] == [
        {"price": prices[0], "quantity": "1"},
        {"price": prices[1], "quantity": "1"},
    ]
    assert session["amount_total"] == 39700 + 49700
    assert session["metadata"]["cart_lines"] == "2" and "product_id" not in session["metadata"]


async def test_a_price_archived_since_the_load_fails_the_order_with_a_clear_answer(
    stripe_shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    card = await open_card(telegram, ada, "The Forest Hiker")
    stripe_api.prices[stripe_api.products["forest-hiker"]["default_price"]]["active"] = False

    after = from_now_on(telegram)
    await telegram.tap(ada, card, button_with(card, "buy:")["callback_data"])
    answer = await next_message(telegram, ada, after=after)

    assert answer["text"] == texts.link_failed(language("en"))
    assert stripe_api.sessions == {}
    orders = rows(stripe_shop.settings.database_path, "SELECT status FROM orders")
    assert orders == [{"status": "failed"}]


async def test_reload_reads_stripe_again(
    stripe_shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    stripe_api.add_product(
        name="The Snow Adventurer", default_price={"unit_amount": 99700, "currency": "usd"}
    )
    stripe_api.products[product_named(stripe_api, "Sea")]["active"] = False

    answer = await reload_as(telegram, ADMIN_ID)

    assert answer.startswith("Catalog reloaded: 2 product(s) on sale")
    home = await open_catalog(telegram, telegram.user(4242, "Ada"))
    assert any(label.startswith("The Snow Adventurer") for label in labels(home))
    assert not any(label.startswith("The Sea Explorer") for label in labels(home))


@pytest.mark.parametrize("kind", ["api_error", "unreachable"])
async def test_stripe_failing_at_reload_keeps_the_catalog_and_tells_the_admin(
    stripe_shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator, kind: str
) -> None:
    before = stripe_shop.live_catalog.current
    stripe_api.add_product(
        name="The Snow Adventurer", default_price={"unit_amount": 99700, "currency": "usd"}
    )

    async with stripe_api.outage(kind):
        answer = await reload_as(telegram, ADMIN_ID)
        signalled = await stripe_shop.catalog_reload.run("SIGHUP")

    assert "not reloaded; the previous one stays in use" in answer
    assert "Stripe" in answer and "not reloaded" in signalled
    assert stripe_shop.live_catalog.current is before
    home = await open_catalog(telegram, telegram.user(4242, "Ada"))
    assert not any(label.startswith("The Snow Adventurer") for label in labels(home))


async def test_start_up_stops_on_a_refused_key_an_unreachable_stripe_or_nothing_to_sell(
    stripe_settings: Callable[..., Settings], stripe_api: StripeEmulator
) -> None:
    with pytest.raises(StartupError, match="Stripe refused STRIPE_SECRET_KEY"):
        await Service(stripe_settings(stripe_secret_key="sk_test_wrong_fake_key")).start()
    with pytest.raises(StartupError, match="no active product"):
        await Service(stripe_settings()).start()
    stock(stripe_api)
    async with stripe_api.outage("unreachable"):
        with pytest.raises(StartupError, match=f"cannot reach Stripe at {stripe_api.base_url}"):
            await Service(stripe_settings()).start()


async def test_the_process_stops_with_one_line_when_stripe_refuses_the_key(
    tmp_path: Path, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    stock(stripe_api)
    env = valid(
        tmp_path,
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        STRIPE_SECRET_KEY="sk_test_wrong_fake_key",
        STRIPE_API_BASE_URL=stripe_api.base_url,
        CATALOG_SOURCE="stripe",
        SHOP_NAME=SHOP_NAME,
        HTTP_HOST="127.0.0.1",
        HTTP_PORT="0",  # any free port: nobody connects to it
    )

    code, stderr = await finish(await run_bot(env, tmp_path))

    assert code == 1
    line = stderr.strip().splitlines()[-1]
    assert line.startswith("checkout-bot: Stripe refused STRIPE_SECRET_KEY")
    assert "wrong_fake_key" not in stderr and "Traceback" not in stderr
    assert not telegram.calls, "nothing else started"


async def test_a_stripe_catalog_needs_a_shop_name(tmp_path: Path) -> None:
    code, stderr = await finish(await run_bot(valid(tmp_path, CATALOG_SOURCE="stripe"), tmp_path))

    assert code == 2
    assert stderr.strip().splitlines() == [
        "checkout-bot: configuration error: SHOP_NAME is required when CATALOG_SOURCE=stripe"
    ]


def test_catalog_source_is_file_unless_set_to_stripe(
    make_settings: Callable[..., Settings],
) -> None:
    assert make_settings().catalog_source is CatalogSource.FILE

    with pytest.raises(ValidationError) as caught:
        make_settings(catalog_source="sheet")

    assert describe_validation_error(caught.value).startswith(
        "configuration error: CATALOG_SOURCE: Input should be 'file' or 'stripe'"
    )
