"""Who the page lets you be: two buyers (English, French) and the shop's admin."""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.telegram_api import TelegramEmulator, TgUser


@dataclass(frozen=True)
class Person:
    """One identity of the page: `key` names it in URLs, `label` on the switch."""

    key: str
    label: str
    user_id: int
    first_name: str
    language_code: str


ADMIN_ID = 700_001
PEOPLE = (
    Person("buyer-en", "Buyer (English)", 100_001, "Ada", "en"),
    Person("buyer-fr", "Acheteuse (français)", 100_002, "Camille", "fr"),
    Person("admin", "Shop owner (admin)", ADMIN_ID, "Owner", "en"),
)
BY_KEY = {person.key: person for person in PEOPLE}
BY_USER_ID = {person.user_id: person for person in PEOPLE}


def register(telegram: TelegramEmulator) -> dict[str, TgUser]:
    """Each person's Telegram user, known to the emulator before the bot starts (Telegram
    refuses a command menu for a chat it has never seen)."""
    return {
        person.key: telegram.user(
            person.user_id,
            person.first_name,
            username=person.first_name.lower(),
            language_code=person.language_code,
        )
        for person in PEOPLE
    }
