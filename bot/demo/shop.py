"""The demo's running shop: both emulators and the real bot wired to them, and what a person on
the page does to them (write, tap, follow a link, pay on the stand-in for Stripe's page)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from bot.catalog.model import Catalog
from bot.demo.people import ADMIN_ID, BY_KEY, BY_USER_ID, Person, register
from bot.demo.settings import demo_settings
from bot.service import Service
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator, TgUser

BOT_USERNAME = "natours_demo_bot"
# Telegram refuses longer messages from a user's client.
MOST_TEXT = 4096
CHECKOUT_URL = re.compile(r"https://checkout\.stripe\.com/c/pay/(cs_[A-Za-z0-9_]+)(#.*)?")


class DemoError(Exception):
    """A request the page may not make; `status` is the HTTP answer, the message its reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass
class Chat:
    """What the page keeps of one person's chat beyond the bot's messages: their own."""

    user: TgUser
    own_messages: list[dict[str, Any]] = field(default_factory=list)
    callback_queries: set[str] = field(default_factory=set)


class DemoShop:
    """`async with DemoShop(catalog, …)` runs the emulators and the shop on loopback."""

    def __init__(self, catalog: Catalog, *, catalog_file: Path, database_url: str) -> None:
        self.telegram = TelegramEmulator(bot_username=BOT_USERNAME)
        self.stripe = StripeEmulator()
        self._catalog = catalog
        self._catalog_file = catalog_file
        self._database_url = database_url
        self._chats: dict[str, Chat] = {}
        self._service: Service | None = None

    @property
    def service(self) -> Service:
        if self._service is None:
            raise RuntimeError("the demo shop is not running")
        return self._service

    async def __aenter__(self) -> Self:
        await self.telegram.start()
        try:
            await self.stripe.start()
            users = register(self.telegram)
            self._chats = {key: Chat(user) for key, user in users.items()}
            settings = demo_settings(
                self.telegram,
                self.stripe,
                database_url=self._database_url,
                catalog_file=self._catalog_file,
                admin_id=ADMIN_ID,
            )
            self._service = Service(settings, self._catalog)
            await self._service.start()
            self.stripe.webhook_url = f"{self._service.http_url}/stripe/webhook"
        except BaseException:
            await self._close_emulators()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._service is not None:
                await self._service.stop()
        finally:
            await self._close_emulators()

    async def _close_emulators(self) -> None:
        await self.stripe.close()
        await self.telegram.close()

    # -- what a person does in the chat --

    def chat(self, key: str) -> Chat:
        chat = self._chats.get(key)
        if chat is None:
            raise DemoError(400, f"unknown person {key!r}: expected one of {sorted(BY_KEY)}")
        return chat

    async def say(self, key: str, text: str) -> dict[str, Any]:
        """The person sends a text (or a command) to the bot."""
        chat = self.chat(key)
        if not text.strip():
            raise DemoError(400, "the message is empty")
        if len(text) > MOST_TEXT:
            raise DemoError(400, f"a message holds at most {MOST_TEXT} characters")
        update = await self.telegram.send_text(chat.user, text)
        message: dict[str, Any] = update["message"]
        chat.own_messages.append(message)
        return message

    async def tap(self, key: str, message_id: int, data: str) -> str:
        """The person taps an inline button of one of the bot's messages; returns the query id,
        which the bot's answer (a toast or an alert) carries."""
        chat = self.chat(key)
        shown = {m["message_id"]: m for m in self.telegram.messages_to(chat.user.id)}
        message = shown.get(message_id)
        if message is None:
            raise DemoError(404, f"no message {message_id} from the bot in this chat")
        try:
            update = await self.telegram.tap(chat.user, message, data)
        except ValueError:
            raise DemoError(400, "that message has no button with this data") from None
        query_id: str = update["callback_query"]["id"]
        chat.callback_queries.add(query_id)
        return query_id

    async def open_link(self, key: str, url: str) -> str | None:
        """A URL button: Stripe's page opens the stand-in (its path is returned); a deep link to
        this bot sends `/start <payload>`, as Telegram's client does."""
        self.chat(key)
        session = CHECKOUT_URL.fullmatch(url)
        if session is not None:
            if session.group(1) not in self.stripe.sessions:
                raise DemoError(404, "no such Checkout Session")
            return f"/checkout/{session.group(1)}"
        payload = deep_link_payload(url)
        if payload is None:
            raise DemoError(400, "the demo opens only this bot's deep links and Checkout pages")
        await self.say(key, f"/start {payload}")
        return None

    # -- Stripe's hosted page --

    def session(self, session_id: str) -> dict[str, Any]:
        session = self.stripe.sessions.get(session_id)
        if session is None:
            raise DemoError(404, f"no Checkout Session {session_id!r}")
        return session

    def buyer_of(self, session: dict[str, Any]) -> Person:
        """The person the session was made for (the bot puts the buyer in client_reference_id)."""
        person = BY_USER_ID.get(int(session.get("client_reference_id") or 0))
        if person is None:
            raise DemoError(409, "this Checkout Session was not made for anyone on this page")
        return person

    async def return_to_chat(self, session: dict[str, Any]) -> None:
        """Stripe sends the buyer to the success URL, which opens the chat at the deep link."""
        await self.open_link(self.buyer_of(session).key, session["success_url"])


def deep_link_payload(url: str) -> str | None:
    """The start payload of a link to this bot (`https://t.me/<bot>?start=<payload>`)."""
    found = re.fullmatch(
        rf"https://t\.me/{BOT_USERNAME}\?start=([A-Za-z0-9_-]{{1,64}})", url, re.IGNORECASE
    )
    return found.group(1) if found else None
