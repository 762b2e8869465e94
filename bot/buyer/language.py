"""Which language each buyer reads: the one they picked with /language, else Telegram's."""

from __future__ import annotations

from typing import Any

from telegram import Update, User
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes, filters

from bot.answers import answer_tap
from bot.buyer import texts
from bot.buyer.keyboards import LANGUAGE_PREFIX, languages_keyboard
from bot.handler_groups import ROOMS
from bot.i18n import Language, languages
from bot.menus import CommandMenus
from storage import Storage

Context = ContextTypes.DEFAULT_TYPE


class BuyerLanguages:
    """Buyers' language choices, read from the store at each update: a choice made through
    one replica holds on every other at once (a copy kept in memory would not)."""

    def __init__(self, storage: Storage, menus: CommandMenus) -> None:
        self.storage = storage
        self.menus = menus

    async def code_of(self, user: User) -> str | None:
        """The buyer's language code: their /language choice, else Telegram's language_code."""
        return await self.storage.buyer_language(user.id) or user.language_code

    async def of(self, user: User) -> Language:
        return languages().get(await self.code_of(user))

    def register(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        private = filters.ChatType.PRIVATE
        application.add_handlers(
            [
                CommandHandler("language", self.ask, filters=private),
                CallbackQueryHandler(self.choose, pattern=f"^{LANGUAGE_PREFIX}"),
            ],
            group=ROOMS,
        )

    async def ask(self, update: Update, context: Context) -> None:
        """Offer every language the bot has a catalog for."""
        message, user = update.effective_message, update.effective_user
        if message is None or user is None:
            return
        lang = await self.of(user)
        await message.reply_text(
            texts.choose_language(lang), reply_markup=languages_keyboard(languages().all())
        )

    async def choose(self, update: Update, context: Context) -> None:
        """Remember the language tapped and confirm in it."""
        query = update.callback_query
        if query is None:
            return
        code = (query.data or "").removeprefix(LANGUAGE_PREFIX)
        if code not in languages().codes:
            lang = await self.of(query.from_user)
            await answer_tap(query, texts.unknown_input(lang), alert=True)
            return
        await self.storage.set_buyer_language(query.from_user.id, code)
        await answer_tap(query)
        try:
            await query.edit_message_text(texts.language_chosen(languages().get(code)))
        except BadRequest as exc:
            # A double tap: the first already said so.
            if "not modified" not in exc.message:
                raise
        await self.menus.follow_language(context.bot, query.from_user.id)
