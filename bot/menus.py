"""The command menus Telegram shows beside the message box: the buyers' one in each language the
bot speaks, and the admins' one, with their commands, in the admins' own chats only."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault, Update
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes, TypeHandler

from bot.handler_groups import WATCH
from bot.i18n import DEFAULT_LANGUAGE, Language, languages
from storage import Storage

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE

# The admins' console speaks English only (bot/admin/texts.py), so its menu does too.
ADMIN_COMMANDS = [
    BotCommand("stats", "Sales figures (admins)"),
    BotCommand("reload", "Reload the catalog (admins)"),
    BotCommand("reconcile", "Check waiting orders at Stripe now (admins)"),
    BotCommand("sales", "Latest paid orders (admins)"),
    BotCommand("order", "One order in full (admins)"),
    BotCommand("export", "Orders as a CSV file (admins)"),
    BotCommand("chart", "Daily revenue chart (admins)"),
    BotCommand("refund", "Refund an order (admins)"),
    BotCommand("alerts", "Sale alerts on or off (admins)"),
    BotCommand("health", "Is the shop healthy? (admins)"),
]


def buyer_commands(lang: Language) -> list[BotCommand]:
    """The buyers' menu, in `lang`."""
    return [
        BotCommand("shop", lang._("See the products")),
        BotCommand("cart", lang._("Your cart")),
        BotCommand("orders", lang._("Your orders")),
        BotCommand("language", lang._("Change the language")),
        BotCommand("help", lang._("How buying works")),
        # Telegram's rules for bots that take Stars: a command for payment questions.
        BotCommand("paysupport", lang._("Help with a payment")),
        BotCommand("start", lang._("Start over")),
    ]


class CommandMenus:
    """Publishes the menus at start-up, and keeps each chat's menu right afterwards.

    Telegram shows the first menu set among: this chat in the user's app language, this chat,
    the default scope in that language, the default scope. So a chat's own menu is set for every
    language the bot speaks, or a French app would still show the default French one.
    """

    def __init__(self, admin_ids: frozenset[int], storage: Storage) -> None:
        self.admin_ids = admin_ids
        self.storage = storage
        self._admins_waiting: set[int] = set()

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        application.add_handler(TypeHandler(Update, self._catch_up), group=WATCH)

    async def publish(self, bot: Bot) -> None:
        """Set every menu; a refusal is logged, never fatal."""
        for lang in languages().all():
            try:
                await bot.set_my_commands(
                    buyer_commands(lang), scope=BotCommandScopeDefault(), language_code=_code(lang)
                )
            except TelegramError as exc:
                log.warning("could not register the %s command list: %s", lang.code, exc)
        for admin_id in sorted(self.admin_ids):
            if not await self._set_for_chat(bot, admin_id):
                # Typically "chat not found": Telegram refuses a chat's menu until that person
                # has opened the bot, so they get it with their first message instead.
                self._admins_waiting.add(admin_id)
        # Ids taken out of ADMIN_IDS since: their chats keep the admins' menu until it is
        # replaced.
        for chat_id in sorted(await self.storage.admin_menu_chats() - self.admin_ids):
            await self._set_for_chat(bot, chat_id)

    async def follow_language(self, bot: Bot, chat_id: int) -> None:
        """Show `chat_id` its menu in the language just picked with /language."""
        await self._set_for_chat(bot, chat_id)

    async def _catch_up(self, update: Update, context: Context) -> None:
        """Give an admin Telegram did not know at start-up their menu, now that it does."""
        user = update.effective_user
        if user is None or user.id not in self._admins_waiting:
            return
        self._admins_waiting.discard(user.id)  # before the await: one try per admin at a time
        if not await self._set_for_chat(context.bot, user.id):
            self._admins_waiting.add(user.id)

    async def _set_for_chat(self, bot: Bot, chat_id: int) -> bool:
        """The chat's own menu: the admins' commands for an admin, in the language picked; for
        a buyer who picked none, no menu of its own (the default one, in their app's language)."""
        chosen = await self.storage.buyer_language(chat_id)
        admin = chat_id in self.admin_ids
        try:
            for lang in languages().all():
                scope, code = BotCommandScopeChat(chat_id), _code(lang)
                if admin or chosen:
                    shown = languages().get(chosen) if chosen else lang
                    commands = buyer_commands(shown) + (ADMIN_COMMANDS if admin else [])
                    await bot.set_my_commands(commands, scope=scope, language_code=code)
                else:
                    await bot.delete_my_commands(scope=scope, language_code=code)
        except TelegramError as exc:
            log.warning("could not set the command list of chat %s: %s", chat_id, exc)
            return False
        await self.storage.set_admin_menu(chat_id, admin)
        return True


def _code(lang: Language) -> str | None:
    """The language_code for `lang`'s menu: none for the default, which every other app sees."""
    return None if lang.code == DEFAULT_LANGUAGE else lang.code
