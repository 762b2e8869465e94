"""What a buyer does in the chat, and how a test reads what was stored, without the bot's code."""

from __future__ import annotations

import asyncio
import sqlite3
import struct
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import ApiCall, TelegramEmulator, TgUser


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


def sent_to(user: TgUser, *, with_buttons: str | None = None, text: str | None = None) -> Any:
    """A predicate for sendMessage calls to the user, optionally with a kind of button or text."""

    def matches(call: ApiCall) -> bool:
        if call.params.get("chat_id") not in (user.id, str(user.id)):
            return False
        message = call.response["result"]
        if text is not None and text not in message.get("text", ""):
            return False
        if with_buttons is not None:
            return any(with_buttons in button for button in buttons(message))
        return True

    return matches


def from_now_on(telegram: TelegramEmulator) -> Any:
    """A predicate true for calls the emulator records after this moment."""
    seen = {id(call) for call in telegram.calls}
    return lambda call: id(call) not in seen


async def next_message(
    telegram: TelegramEmulator,
    user: TgUser,
    *,
    with_buttons: str | None = None,
    text: str | None = None,
    after: Any,
    timeout: float = 5.0,
) -> dict[str, Any]:
    """Wait for the next message the bot sends the user (after the moment `after` marks)."""
    wanted = sent_to(user, with_buttons=with_buttons, text=text)
    calls = await telegram.wait_for(
        "sendMessage", lambda c: after(c) and wanted(c), timeout=timeout
    )
    message: dict[str, Any] = calls[0].response["result"]
    return message


async def open_catalog(telegram: TelegramEmulator, user: TgUser) -> dict[str, Any]:
    """Send /start and return the message holding the product buttons."""
    after = from_now_on(telegram)
    await telegram.send_text(user, "/start")
    return await next_message(telegram, user, with_buttons="callback_data", after=after)


def button_for(message: dict[str, Any], title: str) -> dict[str, Any]:
    """The button whose label starts with a product's title."""
    found = [button for button in buttons(message) if button["text"].startswith(title)]
    assert len(found) == 1, f"one button for {title!r} expected, got {buttons(message)}"
    return found[0]


async def tap_product(telegram: TelegramEmulator, user: TgUser, title: str) -> dict[str, Any]:
    """Open the catalog, tap the product, and return the message with the Pay button."""
    catalog_message = await open_catalog(telegram, user)
    after = from_now_on(telegram)
    await telegram.tap(user, catalog_message, button_for(catalog_message, title)["callback_data"])
    return await next_message(telegram, user, with_buttons="url", after=after)


def session_behind(stripe_api: StripeEmulator, pay_message: dict[str, Any]) -> dict[str, Any]:
    """The Checkout Session whose URL the Pay button opens."""
    (button,) = buttons(pay_message)
    found = [s for s in stripe_api.sessions.values() if s["url"] == button["url"]]
    assert len(found) == 1, "the Pay button must open exactly one Checkout Session"
    return found[0]


def rows(database: Path, sql: str, *parameters: Any) -> list[dict[str, Any]]:
    """Read the shop's database directly, as an owner inspecting the file would."""
    with sqlite3.connect(database) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute(sql, parameters)]


def snapshot(database: Path) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table: compared before and after a request that must change nothing."""
    tables = [
        row["name"] for row in rows(database, "SELECT name FROM sqlite_master WHERE type = 'table'")
    ]
    return {table: rows(database, f"SELECT * FROM {table} ORDER BY rowid") for table in tables}


def png(width: int, height: int) -> bytes:
    """A real PNG of that size (grey pixels), built without an imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for something the bot does without telling anyone (a row it stores after a send)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition still false after {timeout}s")
        await asyncio.sleep(0.005)


def link_stored(database: Path) -> Callable[[], bool]:
    """Whether every order with a link has its pay message remembered (the tap is handled)."""
    return lambda: (
        not rows(
            database,
            "SELECT id FROM orders WHERE checkout_url IS NOT NULL AND pay_message_id IS NULL",
        )
    )
