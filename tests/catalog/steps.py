"""What the catalog tests share: an admin's /reload and its answer."""

from __future__ import annotations

from sandbox.telegram_api import TelegramEmulator
from tests.helpers import ask


async def reload_as(telegram: TelegramEmulator, user_id: int) -> str:
    """Send /reload as that user ("Owner"); the bot's answer."""
    answer = await ask(telegram, telegram.user(user_id, "Owner"), "/reload")
    text: str = answer["text"]
    return text
