"""Who may use the admin console: the ids in ADMIN_IDS. Anyone else learns only that."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.ext import ContextTypes

from bot.admin import texts as admin_texts
from bot.answers import answer_tap

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]


def admins_only(admin_ids: frozenset[int], handler: Handler) -> Handler:
    """Wrap an admin command or button: admins run it, anyone else is told it is for admins.

    A failure is answered here, in the console's words: the application's error handler
    speaks to buyers, in the buyer's language, and would tell the owner to "try again"."""

    async def guarded(update: Update, context: Context) -> None:
        user = update.effective_user
        if user is not None and user.id in admin_ids:
            try:
                await handler(update, context)
            except Exception:
                log.exception("an admin command failed")
                await _tell(update, admin_texts.command_failed())
        elif update.callback_query is not None:
            await answer_tap(update.callback_query, admin_texts.admins_only(), alert=True)
        elif update.effective_message is not None:
            await update.effective_message.reply_text(admin_texts.admins_only())

    return guarded


async def _tell(update: Update, text: str) -> None:
    """Say what failed; a failure to say it is logged, not raised (the error is logged already)."""
    try:
        if update.callback_query is not None:
            await answer_tap(update.callback_query, text, alert=True)
        elif update.effective_message is not None:
            await update.effective_message.reply_text(text)
    except Exception:
        log.exception("could not tell the admin about the failure")
