"""Every buyer-facing message exists in every language, and buyers read their own."""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.buyer.texts import internal_error
from bot.catalog.model import Catalog
from bot.i18n import language, languages
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from tests.helpers import (
    answer_to,
    buttons,
    choose_language,
    from_now_on,
    language_menu,
    link_stored,
    next_message,
    open_catalog,
    reference_in,
    sent_after,
    session_behind,
    tap_product,
    until,
    write_directly,
)

BOT = Path(__file__).resolve().parents[1] / "bot"
PO_FILES = sorted(BOT.glob("locales/*/LC_MESSAGES/messages.po"))


def messages_in_code() -> set[str | tuple[str, ...]]:
    """What Babel's extractor finds in the code: what the translators must cover."""
    return {message for _, _, message, _, _ in extract_from_dir(str(BOT)) if message}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_english_and_french_are_shipped() -> None:
    assert {"en", "fr"} <= set(languages().codes)
    assert [po.parts[-3] for po in PO_FILES] == languages().codes


@pytest.mark.parametrize("po", PO_FILES, ids=lambda po: po.parts[-3])
def test_every_message_in_the_code_is_translated(po: Path) -> None:
    with po.open("rb") as file:
        catalog = read_po(file)
    wanted = messages_in_code()
    assert len(wanted) > 40  # the extractor does find the texts
    translated = {m.id for m in catalog if m.id and not m.fuzzy and all(_strings(m.string))}
    missing = [m for m in wanted if m not in translated]
    assert not missing, f"{po}: no translation for {missing}"
    unused = [m.id for m in catalog if m.id and m.id not in wanted]
    assert not unused, f"{po}: messages no longer in the code: {unused}"


@pytest.mark.parametrize("po", PO_FILES, ids=lambda po: po.parts[-3])
def test_translations_keep_the_placeholders(po: Path) -> None:
    with po.open("rb") as file:
        catalog = read_po(file)
    for message in catalog:
        if not message.id:
            continue
        source = message.id if isinstance(message.id, str) else message.id[-1]
        for translation in _strings(message.string):
            assert placeholders(translation) == placeholders(source), (po, message.id)
            assert re.findall(r"</?\w+>", translation) == re.findall(r"</?\w+>", source)


def _strings(value: str | tuple[str, ...] | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def test_the_catalogs_are_package_data() -> None:
    """`pip install .` ships the .po files: the bot compiles them when it starts."""
    shipped = resources.files("bot").joinpath("locales", "fr", "LC_MESSAGES", "messages.po")
    assert shipped.is_file()


@pytest.mark.parametrize(
    ("language_code", "hello"), [("fr", "Bonjour"), ("fr-CA", "Bonjour"), ("en", "Hello")]
)
async def test_the_buyer_is_answered_in_their_telegram_language(
    shop: Service, telegram: TelegramEmulator, language_code: str, hello: str
) -> None:
    buyer = telegram.user(4242, "Ada", language_code=language_code)
    after = from_now_on(telegram)
    await telegram.send_text(buyer, "/start")
    answer = await next_message(telegram, buyer, after=after)
    assert answer["text"].startswith(hello)


async def test_an_unknown_language_gets_english(shop: Service, telegram: TelegramEmulator) -> None:
    buyer = telegram.user(4242, "Ada", language_code="de")
    after = from_now_on(telegram)
    await telegram.send_text(buyer, "/help")
    answer = await next_message(telegram, buyer, after=after)
    assert "sells through this chat" in answer["text"]


async def test_language_is_remembered_and_reaches_the_checkout_page(
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
) -> None:
    settings = make_settings()
    ada = telegram.user(4242, "Ada", language_code="en")
    async with Service(settings, catalog):
        menu = await language_menu(telegram, ada)
        assert [b["text"] for b in buttons(menu)] == ["English", "Français"]
        chosen = await choose_language(telegram, ada, "Français")
        assert chosen["text"] == "Désormais, je parle français."
    async with Service(settings, catalog):  # a restart: the choice was stored
        pay_message = await tap_product(telegram, ada, "The Forest Hiker")
        assert buttons(pay_message)[0]["text"] == "Payer 397,00\xa0$US"
        (request,) = [
            r
            for r in stripe_api.requests
            if (r.method, r.path) == ("POST", "/v1/checkout/sessions")
        ]
        assert request.params["locale"] == "fr"


async def test_a_forged_language_is_refused_and_changes_nothing(
    shop: Service, telegram: TelegramEmulator
) -> None:
    ada = telegram.user(4242, "Ada", language_code="en")
    menu = await language_menu(telegram, ada)
    update = await telegram.forge_tap(ada, menu, "lang:xx")
    (answer,) = await telegram.wait_for(
        "answerCallbackQuery",
        lambda c: c.params["callback_query_id"] == update["callback_query"]["id"],
    )
    assert answer.params.get("show_alert") is True
    assert await shop.storage.buyer_language(ada.id) is None


async def test_messages_sent_later_follow_a_language_chosen_after_ordering(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada", language_code="en")
    pay_message = await tap_product(telegram, ada, "The Forest Hiker")
    await choose_language(telegram, ada, "Français")

    after = from_now_on(telegram)
    await stripe_api.pay(session_behind(stripe_api, pay_message)["id"])
    confirmation = await next_message(telegram, ada, text="Paiement reçu", after=after)
    assert "397,00" in confirmation["text"]


async def test_the_return_from_stripe_speaks_the_language_the_buyer_chose(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada", language_code="en")
    pay_message = await tap_product(telegram, ada, "The Forest Hiker")
    await choose_language(telegram, ada, "Français")

    # Ada leaves Stripe's page with "back": Stripe sends her to the cancel deep link.
    after = from_now_on(telegram)
    await telegram.send_text(ada, f"/start cancel-{reference_in(pay_message)}")
    home = await next_message(telegram, ada, with_buttons="callback_data", after=after)
    (told,) = [m for m in sent_after(telegram, ada, after) if m["message_id"] < home["message_id"]]
    assert "Circuits" in [b["text"] for b in buttons(home)]  # the shop speaks French...
    assert told["text"].startswith("Le paiement de la commande"), told["text"]  # ...and this?


async def test_a_link_given_again_speaks_the_language_the_buyer_chose(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada", language_code="en")
    await tap_product(telegram, ada, "The Forest Hiker")
    await until(link_stored(shop.settings.database_path))
    await choose_language(telegram, ada, "Français")
    await write_directly(
        shop.settings.database_path, "UPDATE orders SET updated_at = updated_at - 60"
    )  # a minute passes

    again = await tap_product(telegram, ada, "The Forest Hiker")
    assert len(stripe_api.sessions) == 1  # the same link, given again
    assert buttons(again)[0]["text"].startswith("Payer"), buttons(again)[0]["text"]


async def test_a_double_tap_on_a_language_is_not_an_error(
    shop: Service, telegram: TelegramEmulator
) -> None:
    ada = telegram.user(4242, "Ada", language_code="en")
    menu = await language_menu(telegram, ada)
    (french,) = [b for b in buttons(menu) if b["text"] == "Français"]
    after = from_now_on(telegram)
    first = await telegram.tap(ada, menu, french["callback_data"])
    second = await telegram.tap(ada, menu, french["callback_data"])  # before the first is seen
    await answer_to(telegram, first)
    await answer_to(telegram, second)
    await telegram.wait_until(
        lambda: (
            len([c for c in telegram.calls if after(c) and c.method == "editMessageText"]) == 2
            and all(c.status != 0 for c in telegram.calls if after(c) and c.method != "getUpdates")
        ),
        timeout=10,
    )
    # Let the error handler, if any, have its say: the next update is handled after it.
    await open_catalog(telegram, ada)
    sorry = (internal_error(language("en")), internal_error(language("fr")))
    apologies = [m["text"] for m in sent_after(telegram, ada, after) if m["text"] in sorry]
    assert not apologies, apologies
