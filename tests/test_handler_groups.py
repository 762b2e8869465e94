"""Handler groups: the last resort answers only what no room's handler took, whatever order the
rooms registered in."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler, MessageHandler

from bot.handler_groups import LAST_RESORT, ROOMS, taken_by_a_room
from sandbox.telegram_api import TelegramEmulator


async def test_the_last_resort_answers_only_what_no_room_took(telegram: TelegramEmulator) -> None:
    handled: list[str] = []

    async def room(update: Update, context: object) -> None:
        handled.append("room")

    async def last_resort(update: Update, context: object) -> None:
        if not taken_by_a_room(update, application):
            handled.append("last resort")

    application = ApplicationBuilder().token(telegram.token).base_url(telegram.base_url).build()
    # The last resort first, the rooms after it: order of registration must not matter.
    application.add_handlers(
        [CallbackQueryHandler(last_resort), MessageHandler(None, last_resort)], group=LAST_RESORT
    )
    application.add_handlers(
        [CommandHandler("stats", room), CallbackQueryHandler(room, pattern="^buy:")], group=ROOMS
    )
    ada = telegram.user(4242, "Ada")
    shown = await telegram.send_text(ada, "/start")
    async with application:
        for raw, expected in [
            (await telegram.send_text(ada, "/stats"), ["room"]),
            (await telegram.send_text(ada, "hello"), ["last resort"]),
            (await telegram.forge_tap(ada, shown["message"], "buy:lamp:1"), ["room"]),
            (await telegram.forge_tap(ada, shown["message"], "nonsense"), ["last resort"]),
        ]:
            handled.clear()
            await application.process_update(Update.de_json(raw, application.bot))
            assert handled == expected, raw
