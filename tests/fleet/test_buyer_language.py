"""A buyer's /language choice, made through one replica, holds on the others at once: each
reads it from the database, not from a copy in its memory."""

from __future__ import annotations

from telegram import User

from bot.buyer.language import BuyerLanguages
from bot.menus import CommandMenus
from tests.databases import replicas_on


async def test_a_language_chosen_through_one_replica_is_read_by_another(database_url: str) -> None:
    async with replicas_on(database_url) as (first, second):
        ada = User(4242, "Ada", is_bot=False, language_code="en")
        other_replica = BuyerLanguages(second, CommandMenus(frozenset(), second))
        assert await other_replica.code_of(ada) == "en"
        # /language on the first replica stores the choice.
        await first.set_buyer_language(ada.id, "fr")
        assert await other_replica.code_of(ada) == "fr"
        assert (await other_replica.of(ada)).code == "fr"
