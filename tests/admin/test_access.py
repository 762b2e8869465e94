"""Who may use the console, and how it answers when one of its commands fails."""

from __future__ import annotations

from bot.admin import texts as admin_texts
from bot.buyer.texts import internal_error
from bot.i18n import language
from bot.service import Service
from sandbox.telegram_api import TelegramEmulator
from tests.helpers import ADMIN_ID, ask, write_directly


async def test_a_failed_admin_command_is_answered_in_the_consoles_words(
    shop: Service, telegram: TelegramEmulator
) -> None:
    """The buyers' apology ("please try again in a moment") is no help to the owner."""
    owner, ada = telegram.user(ADMIN_ID, "Owner"), telegram.user(4242, "Ada")
    await write_directly(shop.settings.database_path, "ALTER TABLE orders RENAME TO orders_gone")

    assert (await ask(telegram, owner, "/stats"))["text"] == admin_texts.command_failed()
    assert (await ask(telegram, owner, "/sales"))["text"] == admin_texts.command_failed()
    assert (await ask(telegram, ada, "/orders"))["text"] == internal_error(language("en"))


async def test_reload_is_refused_to_others_as_every_admin_command_is(
    shop: Service, telegram: TelegramEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    for command in ("/reload", "/stats"):
        assert (await ask(telegram, ada, command))["text"] == admin_texts.admins_only()
