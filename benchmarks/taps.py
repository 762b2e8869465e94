"""(2) Tap to link: a product tapped, to the message with the Checkout link at the emulator.

The bot runs in Telegram webhook mode with a one-product catalog; each user first opens the
product's card (/start, then the product), and the measured tap is the card's Buy button: the
emulator POSTs it as a callback query and records when the bot's sendMessage with the pay URL
arrives. Phase one taps at a fixed 20/s under Telegram's flood limits; phase two keeps 64 taps
in flight with the emulator's limits off, to find the highest sustained rate.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from benchmarks import database
from benchmarks.chats import Arrivals, buttons, pay_link, percentile
from benchmarks.context import TELEGRAM_WEBHOOK_SECRET, RunContext, bot_settings
from benchmarks.figures import BenchmarkFailure, Figure, at_least, at_most
from benchmarks.processes import Server, free_port, start_bot
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TELEGRAM_LIMITS, TelegramEmulator, TgUser

NAME = "taps"
FIXED_RATE = 20.0
IN_FLIGHT = 64
FIRST_USER = 500_000
# After giving every user a card at Telegram's pace, let the flood buckets fill up again,
# so that the measured taps do not pay for the set-up's messages.
SETTLE_SECONDS = 1.5
CARD_DATA = "p:forest-hiker:1"
BUY_DATA = "buy:forest-hiker:1"
CATALOG = """\
[shop]
name = "Benchmark shop"

[[products]]
id = "forest-hiker"
title = "The Forest Hiker"
price = "397.00"
currency = "usd"
"""


async def run(context: RunContext) -> list[Figure]:
    fixed_seconds, open_seconds = (3.0, 3.0) if context.quick else (6.0, 6.0)
    fixed, refused = await _fixed_rate(context, int(FIXED_RATE * fixed_seconds))
    fast_latencies, fast_rate = await _as_fast_as_possible(context, open_seconds)
    return [
        Figure(NAME, "20 taps/s: p50", percentile(fixed, 50) * 1000, "ms"),
        Figure(NAME, "20 taps/s: p99", percentile(fixed, 99) * 1000, "ms", at_most(15)),
        Figure(NAME, "20 taps/s: 429 answers caused", refused, ""),
        Figure(NAME, "limit off: sustained taps/s", fast_rate, "/s", at_least(300)),
        Figure(NAME, "limit off: p50", percentile(fast_latencies, 50) * 1000, "ms"),
        Figure(NAME, "limit off: p99", percentile(fast_latencies, 99) * 1000, "ms"),
    ]


async def _webhook_bot(
    context: RunContext,
    folder_name: str,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    *,
    limit_off: bool = False,
) -> tuple[Server, Any]:
    folder = context.folder(folder_name)
    port = free_port()
    catalog = folder / "catalog.toml"
    catalog.write_text(CATALOG)
    settings = bot_settings(telegram, stripe_api, folder / "shop.db") | {
        "CATALOG_FILE": str(catalog),
        "TELEGRAM_MODE": "webhook",
        "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_WEBHOOK_SECRET,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        # With the emulator's limit off, the bot's own cap goes too: this measures the bot.
        "TELEGRAM_MESSAGES_PER_SECOND": "0" if limit_off else "30",
    }
    bot = await start_bot(settings, folder, port)
    await bot.wait_until_answering("/healthz")
    # Up once it has registered its webhook and its commands.
    await telegram.wait_for("setMyCommands", timeout=30)
    return bot, folder / "shop.db"


async def _cards(telegram: TelegramEmulator, users: list[TgUser]) -> dict[int, Any]:
    """Each user sends /start and taps the product; their card messages (with Buy)."""
    shown = Arrivals(telegram, _shown)
    shown.start()
    try:
        for user in users:
            await telegram.send_text(user, "/start")
        await shown.wait_for_count(len(users), timeout=10 + len(users) / 20)
        for user in users:
            await telegram.tap(user, _message_with(telegram, user, CARD_DATA), CARD_DATA)
        await shown.wait_for_count(2 * len(users), timeout=10 + len(users) / 20)
    finally:
        await shown.stop()
    return {user.id: _message_with(telegram, user, BUY_DATA) for user in users}


def _shown(call: Any) -> bool:
    """A message the bot sent or edited to show something."""
    return call.method in ("sendMessage", "editMessageText") and call.status == 200


def _message_with(telegram: TelegramEmulator, user: TgUser, data: str) -> Any:
    messages = [m for m in telegram.messages_to(user.id) if data in _data(m)]
    if len(messages) != 1:
        seen = [(m.get("text"), _data(m)) for m in telegram.messages_to(user.id)]
        raise BenchmarkFailure(f"user {user.id}: {len(messages)} messages with {data} in {seen}")
    return messages[0]


def _data(message: dict[str, Any]) -> list[str]:
    return [button.get("callback_data", "") for button in buttons(message)]


async def _fixed_rate(context: RunContext, taps: int) -> tuple[list[float], int]:
    """Latencies of taps at 20/s, and the 429s the bot caused meanwhile."""
    async with (
        TelegramEmulator(rate_limits=TELEGRAM_LIMITS) as telegram,
        StripeEmulator() as stripe_api,
    ):
        bot, db = await _webhook_bot(context, f"{NAME}/fixed", telegram, stripe_api)
        try:
            users = [telegram.user(FIRST_USER + i, "Tapper") for i in range(taps)]
            cards = await _cards(telegram, users)
            await asyncio.sleep(SETTLE_SECONDS)
            refused_before = telegram.too_many_requests
            answered_before = _answered(telegram)
            links = Arrivals(telegram, pay_link)
            links.start()
            tapped: dict[int, float] = {}
            started = time.monotonic()
            for index, user in enumerate(users):
                await asyncio.sleep(max(0.0, started + index / FIXED_RATE - time.monotonic()))
                tapped[user.id] = time.monotonic()
                await telegram.tap(user, cards[user.id], BUY_DATA)
            await _wait_all(links, taps, bot)
            await links.stop()
            refused = telegram.too_many_requests - refused_before
        finally:
            await bot.stop()
        _check(telegram, stripe_api, db, links, taps, answered_before)
    return [links.at[user_id][0] - at for user_id, at in tapped.items()], refused


async def _as_fast_as_possible(context: RunContext, seconds: float) -> tuple[list[float], float]:
    async with TelegramEmulator(rate_limits=None) as telegram, StripeEmulator() as stripe_api:
        bot, db = await _webhook_bot(context, f"{NAME}/fast", telegram, stripe_api, limit_off=True)
        try:
            pool = int(seconds * 600) + IN_FLIGHT  # more users than the bot can serve in time
            users = [telegram.user(FIRST_USER + i, "Tapper") for i in range(pool)]
            cards = await _replicated_cards(telegram, users)
            answered_before = _answered(telegram)
            links = Arrivals(telegram, pay_link)
            links.start()
            latencies: list[float] = []
            queue = list(reversed(users))
            started = time.monotonic()
            deadline = started + seconds

            async def tapper() -> None:
                while queue and time.monotonic() < deadline:
                    user = queue.pop()
                    arrived = links.next_in(user.id)
                    at = time.monotonic()
                    await telegram.tap(user, cards[user.id], BUY_DATA)
                    latencies.append(await asyncio.wait_for(arrived, 30) - at)

            await asyncio.gather(*(tapper() for _ in range(IN_FLIGHT)))
            elapsed = time.monotonic() - started
            await links.stop()
        finally:
            await bot.stop()
        _check(telegram, stripe_api, db, links, len(latencies), answered_before)
    return latencies, len(latencies) / elapsed


async def _replicated_cards(telegram: TelegramEmulator, users: list[TgUser]) -> dict[int, Any]:
    """The bot's real product card for the first user, sent again to the others.

    Opening thousands of cards through the bot would measure browsing, not buying. The copies go
    through the emulator's own Bot API, with the text and buttons the bot gave the first one.
    """
    first = users[0]
    await _cards(telegram, [first])
    original = [
        call
        for call in telegram.calls_to("editMessageText")
        if call.params.get("chat_id") == first.id and BUY_DATA in str(call.params)
    ][-1]
    params = {
        key: value
        for key, value in original.params.items()
        if key in ("text", "parse_mode", "reply_markup")
    }
    url = f"{telegram.base_url}{telegram.token}/sendMessage"
    async with aiohttp.ClientSession() as session:

        async def send(user: TgUser) -> None:
            async with session.post(url, json=params | {"chat_id": user.id}) as answer:
                if answer.status != 200:
                    raise BenchmarkFailure(f"copying the card: {await answer.text()}")

        for start in range(1, len(users), 64):
            await asyncio.gather(*(send(user) for user in users[start : start + 64]))
    return {user.id: _message_with(telegram, user, BUY_DATA) for user in users}


async def _wait_all(links: Arrivals, taps: int, bot: Server) -> None:
    try:
        await links.wait_for_count(taps, timeout=30)
    except TimeoutError:
        raise BenchmarkFailure(
            f"{links.count} pay links for {taps} taps within 30 s:\n{bot.log_tail()}"
        ) from None


def _check(
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    db: Any,
    links: Arrivals,
    taps: int,
    answered_before: int,
) -> None:
    """One pay link per tap, one Checkout Session and one pending order behind each."""
    twice = [chat for chat, times in links.at.items() if len(times) != 1]
    if links.count != taps or twice:
        raise BenchmarkFailure(f"{links.count} pay links for {taps} taps ({len(twice)} doubled)")
    if len(stripe_api.sessions) != taps:
        raise BenchmarkFailure(f"{len(stripe_api.sessions)} Checkout Sessions for {taps} taps")
    database.expect_counts(db, {database.PENDING_WITH_LINK: taps})
    answered = _answered(telegram) - answered_before
    if answered != taps:
        raise BenchmarkFailure(f"{answered} callback queries answered for {taps} taps")


def _answered(telegram: TelegramEmulator) -> int:
    return sum(call.status == 200 for call in telegram.calls_to("answerCallbackQuery"))
