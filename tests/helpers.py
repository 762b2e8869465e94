"""What a buyer does in the chat, and how a test reads what was stored, without the bot's code."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import socket
import sqlite3
import struct
import time
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.outbox.sender import RetryDelays
from bot.service import Service
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import ApiCall, TelegramEmulator, TgUser
from storage import NewOrder, OrderLine

REPO = Path(__file__).resolve().parents[1]
# The shop's admin in the settings the fixtures make (tests/conftest.py).
ADMIN_ID = 900_001

# The outbox's retries at a hundredth of the bot's delays (10 ms, 20 ms, 40 ms… and 40 ms after
# trouble): tests wait for the retry itself, never for a real backoff.
QUICK_RETRIES = RetryDelays(first=0.01, most=3.0, trouble=0.04)

# A chat's messages a hundredth of a second apart, not Telegram's second (bot/outbox/pace.py):
# where the emulator enforces no flood limits, a test waits for the bot, not for the pace.
QUICK_SECONDS_PER_CHAT = 0.01


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
    """Send /start and return the message holding the shop's first page of buttons."""
    after = from_now_on(telegram)
    await telegram.send_text(user, "/start")
    return await next_message(telegram, user, with_buttons="callback_data", after=after)


def button_for(message: dict[str, Any], title: str) -> dict[str, Any]:
    """The button whose label starts with a product's (or category's) title."""
    found = [button for button in buttons(message) if button["text"].startswith(title)]
    assert len(found) == 1, f"one button for {title!r} expected, got {buttons(message)}"
    return found[0]


def button_with(message: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The one button whose callback data starts with `prefix` ("buy:", "h:")."""
    found = [b for b in buttons(message) if b.get("callback_data", "").startswith(prefix)]
    assert len(found) == 1, f"one button with data {prefix!r} expected, got {buttons(message)}"
    return found[0]


# What the bot may do to show the answer to a tap: edit the message, or send one.
SHOWING = ("editMessageText", "editMessageMedia", "editMessageCaption", "sendMessage", "sendPhoto")


async def tap_and_see(
    telegram: TelegramEmulator,
    user: TgUser,
    message: dict[str, Any],
    data: str,
    *,
    timeout: float = 5.0,
) -> dict[str, Any]:
    """Tap a button and return the message the bot shows in answer, edited or new."""
    after = from_now_on(telegram)
    await telegram.tap(user, message, data)

    def shown() -> list[ApiCall]:
        return [
            call
            for call in telegram.calls
            if after(call)
            and call.status == 200
            and call.method in SHOWING
            and call.params.get("chat_id") in (user.id, str(user.id))
        ]

    await telegram.wait_until(lambda: bool(shown()), timeout=timeout)
    result: dict[str, Any] = shown()[0].response["result"]
    return result


async def open_card(telegram: TelegramEmulator, user: TgUser, title: str) -> dict[str, Any]:
    """From /start, find the product through the categories and return its card."""
    home = await open_catalog(telegram, user)
    if any(button["text"].startswith(title) for button in buttons(home)):
        return await tap_and_see(telegram, user, home, button_for(home, title)["callback_data"])
    categories = [b["callback_data"] for b in buttons(home) if b["callback_data"].startswith("c:")]
    for category in categories:
        listing = await tap_and_see(telegram, user, home, category)
        for page in itertools.count(1):
            if any(button["text"].startswith(title) for button in buttons(listing)):
                data = button_for(listing, title)["callback_data"]
                return await tap_and_see(telegram, user, listing, data)
            following = category.rpartition(":")[0] + f":{page}"
            if following not in [button["callback_data"] for button in buttons(listing)]:
                break
            listing = await tap_and_see(telegram, user, listing, following)
        back = button_with(listing, "h:")["callback_data"]
        home = await tap_and_see(telegram, user, listing, back)
    raise AssertionError(f"no product {title!r} in the shop")


async def card_with_quantity(
    telegram: TelegramEmulator, user: TgUser, title: str, quantity: int
) -> dict[str, Any]:
    """Open the product's card and pick the quantity with its +."""
    card = await open_card(telegram, user, title)
    for _ in range(quantity - 1):
        more = [b for b in buttons(card) if b["text"] == "+"]
        card = await tap_and_see(telegram, user, card, more[0]["callback_data"])
    return card


async def tap_product(
    telegram: TelegramEmulator, user: TgUser, title: str, quantity: int = 1
) -> dict[str, Any]:
    """Open the product's card, pick the quantity, tap Buy; return the message with Pay."""
    card = await card_with_quantity(telegram, user, title, quantity)
    after = from_now_on(telegram)
    await telegram.tap(user, card, button_with(card, "buy:")["callback_data"])
    return await next_message(telegram, user, with_buttons="url", after=after)


def session_behind(stripe_api: StripeEmulator, pay_message: dict[str, Any]) -> dict[str, Any]:
    """The Checkout Session whose URL the Pay button opens."""
    (button,) = buttons(pay_message)
    found = [s for s in stripe_api.sessions.values() if s["url"] == button["url"]]
    assert len(found) == 1, "the Pay button must open exactly one Checkout Session"
    return found[0]


async def write_directly(
    database: Path, sql: str, parameters: Any = (), *, many: bool = False
) -> None:
    """Change the shop's file from a connection of its own, as an owner (or a crash) would,
    off the event loop: the shop's own transaction may hold the write lock just then, and
    can only finish while its loop runs (a write from the loop's thread waited for it, in
    vain, until "database is locked")."""

    def write() -> None:
        db = sqlite3.connect(database)
        try:
            with db:
                if many:
                    db.executemany(sql, parameters)
                else:
                    db.execute(sql, parameters)
        finally:
            db.close()

    await asyncio.to_thread(write)


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


async def until(
    condition: Callable[[], bool | Awaitable[bool]],
    timeout: float = 5.0,
    what: str = "condition",
    every: float = 0.005,
) -> None:
    """Wait for something the bot does without telling anyone: it stores the pay message's id
    once Telegram has answered the send, and nothing observable follows; a row another process
    writes. Polls the condition (a plain or an async check) until it holds, never a guessed
    duration; `what` names it in the error, `every` spaces costly checks (a new connection)."""
    deadline = time.monotonic() + timeout
    while not await _holds(condition):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} still false after {timeout}s")
        await asyncio.sleep(every)


async def _holds(condition: Callable[[], bool | Awaitable[bool]]) -> bool:
    answer = condition()
    return await answer if inspect.isawaitable(answer) else answer


def link_stored(database: Path) -> Callable[[], bool]:
    """Whether every order with a link has its pay message remembered (the tap is handled)."""
    return lambda: (
        not rows(
            database,
            "SELECT id FROM orders WHERE checkout_url IS NOT NULL AND pay_message_id IS NULL",
        )
    )


async def answer_to(telegram: TelegramEmulator, update: dict[str, Any]) -> dict[str, Any]:
    """The bot's answerCallbackQuery for a tap."""
    query_id = update["callback_query"]["id"]
    (answer,) = await telegram.wait_for(
        "answerCallbackQuery", lambda c: c.params["callback_query_id"] == query_id, timeout=20
    )
    return answer.params


def stale_tap(user: TgUser, message: dict[str, Any], data: str, number: int) -> dict[str, Any]:
    """A tap Telegram delivers late (the bot was restarting, or busy): by the time the bot
    answers it, Telegram says "query is too old". The buyer still tapped a real button."""
    assert data in [b.get("callback_data") for b in buttons(message)]
    return {
        "callback_query": {
            "id": f"77{number:017d}",  # never opened at the emulator: too old to answer
            "from": user.as_dict(),
            "message": message,
            "chat_instance": str(-7_000_000_000_000_000_000 - user.id),
            "data": data,
        }
    }


def sent_after(
    telegram: TelegramEmulator, user: TgUser, after: Callable[[ApiCall], bool]
) -> list[dict[str, Any]]:
    """The messages the bot sent the user after a moment."""
    return [
        call.response["result"]
        for call in telegram.calls_to("sendMessage")
        if after(call)
        and call.status == 200
        and call.params.get("chat_id") in (user.id, str(user.id))
    ]


def has_url_button(message: dict[str, Any]) -> bool:
    return any("url" in button for button in buttons(message))


def reference_in(pay_message: dict[str, Any]) -> str:
    text: str = pay_message["text"]
    return text.split("#", 1)[1].split(" ", 1)[0]


async def language_menu(telegram: TelegramEmulator, user: TgUser) -> dict[str, Any]:
    """Send /language and return the message with a button per language."""
    after = from_now_on(telegram)
    await telegram.send_text(user, "/language")
    return await next_message(telegram, user, with_buttons="callback_data", after=after)


async def choose_language(telegram: TelegramEmulator, user: TgUser, name: str) -> dict[str, Any]:
    """Pick a language by its name ("Français") with /language; returns the bot's answer."""
    menu = await language_menu(telegram, user)
    (button,) = [b for b in buttons(menu) if b["text"] == name]
    return await tap_and_see(telegram, user, menu, button["callback_data"])


def paid_event(
    stripe_api: StripeEmulator, session: dict[str, Any], **changes: Any
) -> dict[str, Any]:
    """The event Stripe would send if the session were paid now (without paying it)."""
    paid = {
        **session,
        "status": "complete",
        "payment_status": "paid",
        "payment_intent": "pi_test_123",
        **changes,
    }
    return stripe_api.build_event("checkout.session.completed", paid)


def free_port() -> int:
    """A port of 127.0.0.1 free now, for a server that must know its port before it starts (a
    child process, a webhook URL); a port where nobody listens is the `closed_port` fixture."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# Orders a test writes straight into the orders table become one-line orders, as migration 0012
# made of the orders stored before it.
ONE_LINE_EACH = (
    "INSERT INTO order_lines (order_id, line_no, product_id, title, unit_amount, quantity)"
    " SELECT id, 1, product_id, product_title, unit_amount, quantity FROM orders"
    " WHERE id NOT IN (SELECT order_id FROM order_lines)"
)


def new_order(user_id: int = 7, amount: int = 39700, quantity: int = 1) -> NewOrder:
    """A Forest Hiker order of `user_id` in their private chat, as the storage takes it."""
    return NewOrder(
        telegram_user_id=user_id,
        chat_id=user_id,
        buyer_name="Ada Lovelace",
        buyer_username="ada",
        language="en",
        currency="usd",
        lines=(OrderLine("forest-hiker", "The Forest Hiker", amount, quantity),),
    )


async def open_order(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator, user: TgUser
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A tap on The Forest Hiker, handled whole: its pay message and its session."""
    pay_message = await tap_product(telegram, user, "The Forest Hiker")
    await until(link_stored(shop.settings.database_path))
    return pay_message, session_behind(stripe_api, pay_message)


async def ask(
    telegram: TelegramEmulator,
    user: TgUser,
    text: str,
    *,
    with_buttons: str | None = None,
    holding: str | None = None,
) -> dict[str, Any]:
    """Send `text` as the user; the next message the bot sends them (with that kind of button,
    or holding that text, if given). Say which where the outbox may send the user something
    meanwhile (a notice queued earlier), as it may arrive before the answer or after it."""
    after = from_now_on(telegram)
    await telegram.send_text(user, text)
    return await next_message(telegram, user, with_buttons=with_buttons, text=holding, after=after)


async def raw_post(
    service: Service, path: str, headers: list[bytes], body: bytes
) -> tuple[int, str]:
    """POST exactly these header lines (any bytes, which an HTTP client would refuse to send)
    and body over a raw socket: the answer's status and body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", service.http_port)
    head = [f"POST {path} HTTP/1.1".encode(), b"Host: shop", b"Connection: close"]
    head += [*headers, b"Content-Type: application/json", f"Content-Length: {len(body)}".encode()]
    writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
    answer = await asyncio.wait_for(reader.read(), timeout=20)
    writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2].decode()
