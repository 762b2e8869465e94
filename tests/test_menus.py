"""The command menus, as each person would see them in Telegram (the emulator resolves scopes and
languages in Telegram's documented order)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.catalog.model import Catalog
from bot.menus import ADMIN_COMMANDS
from bot.service import Service
from bot.settings import Settings
from sandbox.telegram_api import ApiCall, TelegramEmulator, TgUser
from tests.helpers import (
    ADMIN_ID,
    choose_language,
    from_now_on,
    next_message,
)

ADMIN = {
    "stats",
    "reload",
    "reconcile",
    "sales",
    "order",
    "export",
    "chart",
    "refund",
    "alerts",
    "health",
}
BUYER_EN = {
    "shop": "See the products",
    "cart": "Your cart",
    "orders": "Your orders",
    "language": "Change the language",
    "help": "How buying works",
    "paysupport": "Help with a payment",
    "start": "Start over",
}
BUYER_FR = {
    "shop": "Voir les produits",
    "cart": "Votre panier",
    "orders": "Vos commandes",
    "language": "Changer de langue",
    "help": "Comment acheter",
    "paysupport": "Aide pour un paiement",
    "start": "Recommencer",
}


def menu(telegram: TelegramEmulator, user: TgUser) -> dict[str, str]:
    return {c["command"]: c["description"] for c in telegram.menu_of(user)}


def buyer_part(shown: dict[str, str]) -> dict[str, str]:
    return {command: text for command, text in shown.items() if command not in ADMIN}


def chat_menu_set(chat_id: int) -> Callable[[ApiCall], bool]:
    return lambda call: (call.params.get("scope") or {}).get("chat_id") == chat_id


async def choose_menu_language(telegram: TelegramEmulator, user: TgUser, name: str) -> None:
    after = from_now_on(telegram)
    await choose_language(telegram, user, name)
    # The chat's menu for each language the bot speaks, set after the choice is confirmed.
    await telegram.wait_for(
        "setMyCommands", lambda c: after(c) and chat_menu_set(user.id)(c), count=2
    )


async def test_buyers_see_their_apps_language_and_admins_also_their_commands(
    make_settings: Callable[..., Settings], catalog: Catalog, telegram: TelegramEmulator
) -> None:
    owner = telegram.user(ADMIN_ID, "Owner")  # the owner has opened the bot before
    ada = telegram.user(4242, "Ada", language_code="en")
    zoe = telegram.user(4343, "Zoé", language_code="fr")
    dirk = telegram.user(4444, "Dirk", language_code="de")  # no German texts: English
    french_owner = TgUser(ADMIN_ID, "Owner", language_code="fr-CA")

    async with Service(make_settings(), catalog):
        seen = {user.first_name: menu(telegram, user) for user in (ada, zoe, dirk, owner)}
        seen_by_french_owner = menu(telegram, french_owner)

    assert {command.command for command in ADMIN_COMMANDS} == ADMIN
    assert seen["Ada"] == BUYER_EN and seen["Dirk"] == BUYER_EN
    assert seen["Zoé"] == BUYER_FR
    assert set(seen["Owner"]) == set(BUYER_EN) | ADMIN
    assert buyer_part(seen["Owner"]) == BUYER_EN
    assert set(seen_by_french_owner) == set(BUYER_FR) | ADMIN
    assert buyer_part(seen_by_french_owner) == BUYER_FR


async def test_an_admin_who_had_not_opened_the_bot_gets_their_menu_with_their_first_message(
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    telegram: TelegramEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Telegram refuses a chat's menu ("chat not found") until that person opens the bot."""
    async with Service(make_settings(admin_ids=frozenset({777})), catalog):
        assert "could not set the command list of chat 777" in caplog.text
        newcomer = telegram.user(777, "New admin")
        assert set(menu(telegram, newcomer)) == set(BUYER_EN), "the default menu only, for now"

        after = from_now_on(telegram)
        await telegram.send_text(newcomer, "/help")
        answer = await next_message(telegram, newcomer, after=after)
        await telegram.wait_for("setMyCommands", lambda c: after(c) and chat_menu_set(777)(c))

        assert "sells through this chat" in answer["text"]
        assert set(menu(telegram, newcomer)) == set(BUYER_EN) | ADMIN
        # Once is enough: the next message sets nothing.
        later = from_now_on(telegram)
        await telegram.send_text(newcomer, "/help")
        await next_message(telegram, newcomer, after=later)
        assert not [c for c in telegram.calls if later(c) and c.method == "setMyCommands"]


async def test_the_menu_follows_the_language_picked_and_keeps_it_across_a_restart(
    make_settings: Callable[..., Settings], catalog: Catalog, telegram: TelegramEmulator
) -> None:
    settings = make_settings()
    ada = telegram.user(4242, "Ada", language_code="en")
    owner = telegram.user(ADMIN_ID, "Owner", language_code="en")
    async with Service(settings, catalog):
        await choose_menu_language(telegram, ada, "Français")
        await choose_menu_language(telegram, owner, "Français")
        assert menu(telegram, ada) == BUYER_FR
        assert buyer_part(menu(telegram, owner)) == BUYER_FR

    async with Service(settings, catalog):  # the start-up menus keep the owner's choice
        assert buyer_part(menu(telegram, owner)) == BUYER_FR
        assert set(menu(telegram, owner)) == set(BUYER_FR) | ADMIN
        assert menu(telegram, ada) == BUYER_FR
        await choose_menu_language(telegram, ada, "English")
        assert menu(telegram, ada) == BUYER_EN


async def test_an_id_taken_out_of_admin_ids_no_longer_sees_the_admin_commands(
    make_settings: Callable[..., Settings], catalog: Catalog, telegram: TelegramEmulator
) -> None:
    former = telegram.user(777, "Former admin", language_code="en")
    async with Service(make_settings(admin_ids=frozenset({777})), catalog):
        assert "stats" in {c["command"] for c in telegram.menu_of(former)}
    # The owner takes 777 out of ADMIN_IDS and restarts the bot.
    async with Service(make_settings(admin_ids=frozenset()), catalog):
        after = from_now_on(telegram)
        await telegram.send_text(former, "/stats")
        told = await next_message(telegram, former, after=after)
        assert "admins" in told["text"]  # /stats is refused now...
        shown = {c["command"] for c in telegram.menu_of(former)}
        assert "stats" not in shown, f"...but the menu still offers it: {sorted(shown)}"
