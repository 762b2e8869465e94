"""Answering a button tap, which Telegram may refuse without the buyer losing anything."""

from __future__ import annotations

import logging

from telegram import CallbackQuery
from telegram.error import TelegramError

log = logging.getLogger(__name__)


async def answer_tap(query: CallbackQuery, text: str | None = None, *, alert: bool = False) -> None:
    """Stop the button's spinner, showing `text` if any; a refusal never stops what follows.

    Telegram refuses to answer a tap older than about 15 seconds ("query is too old"): one that
    waited out a restart or a backlog. The buyer still gets the reply the tap asked for, and a
    text the answer would have shown arrives as a message instead.
    """
    try:
        await query.answer(text, show_alert=alert)
    except TelegramError as exc:
        log.info("a tap could not be answered: %s", exc)
        if text:
            chat_id = query.message.chat.id if query.message is not None else query.from_user.id
            try:
                await query.get_bot().send_message(chat_id, text)
            except TelegramError as send_error:
                log.warning("could not tell a tap's answer to chat %s: %s", chat_id, send_error)
