"""(3) Confirmation burst: N orders paid at once, confirmed under Telegram's flood limits."""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import database
from benchmarks.chats import Arrivals, confirmation
from benchmarks.context import RunContext, bot_settings
from benchmarks.figures import BenchmarkFailure, Figure, at_most
from benchmarks.processes import free_port, run_wrk, start_bot
from benchmarks.webhook import generate_requests
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TELEGRAM_LIMITS, TelegramEmulator

NAME = "burst"
TELEGRAM_RATE = 30  # messages per second, the emulator's (and Telegram's) overall limit


@dataclass(frozen=True)
class Burst:
    last: float  # seconds from the first payment posted to the last confirmation
    refused: int  # 429s Telegram answered meanwhile
    busiest: int  # the most confirmations that arrived within any one second


async def run(context: RunContext) -> list[Figure]:
    if context.peers is None:
        raise BenchmarkFailure("needs ../shared/peers (loadgen/gen.py); pass --peers DIR")
    orders = 300 if context.quick else 1_000
    folder = context.folder(NAME)
    db, requests = folder / "shop.db", folder / "requests.tsv"
    await database.create_with_pending_orders(db, orders)
    generate_requests(context.peers, orders, requests)

    async with (
        TelegramEmulator(rate_limits=TELEGRAM_LIMITS) as telegram,
        StripeEmulator() as stripe_api,
    ):
        for order_id in range(1, orders + 1):
            telegram.user(database.chat_of(order_id), "Bench")
        bot = await start_bot(bot_settings(telegram, stripe_api, db), folder, free_port())
        try:
            await bot.wait_until_answering("/healthz")
            result = await confirm_all(telegram, bot.url, requests, orders)
        finally:
            await bot.stop()
    database.expect_counts(db, {database.PAID_ORDERS: orders, database.SENT_MESSAGES: orders})
    return figures(NAME, orders, result)


def figures(name: str, orders: int, result: Burst, label: str = "") -> list[Figure]:
    """The burst's figures; `label` (such as "3 replicas: ") goes before each figure's name."""
    floor = orders / TELEGRAM_RATE
    return [
        Figure(
            name,
            f"{label}{orders} confirmations: time to last",
            result.last,
            "s",
            at_most(floor * 1.05),
        ),
        Figure(name, f"{label}429 answers caused", result.refused, "", at_most(0)),
        Figure(name, f"{label}floor (N / 30 per s)", floor, "s"),
        # Above 30 when sends bunch: one sent late, the next ones on time (the emulator's
        # buckets, like Telegram's, allow a burst); well above it would be slots given twice.
        Figure(name, f"{label}busiest second", result.busiest, "messages"),
    ]


async def confirm_all(telegram: TelegramEmulator, url: str, requests: Path, orders: int) -> Burst:
    """POST the orders' payments to `url` at once; when the confirmations came, and the 429s
    Telegram answered meanwhile. Each chat is confirmed once."""
    floor = orders / TELEGRAM_RATE
    arrivals = Arrivals(telegram, confirmation)
    refused_before = telegram.too_many_requests
    arrivals.start()
    try:
        started = time.monotonic()
        load = await run_wrk(url, requests, orders, 64)
        if load.non_2xx or load.socket_errors:
            raise BenchmarkFailure(f"{load.non_2xx} webhook requests refused")
        timeout = 2 * floor + 10
        try:
            await arrivals.wait_for_count(orders, timeout)
        except TimeoutError:
            raise BenchmarkFailure(
                f"{arrivals.count} of {orders} confirmations within {timeout:.0f} s; "
                f"{telegram.too_many_requests - refused_before} answered 429"
            ) from None
        times = sorted(time for chat in arrivals.at.values() for time in chat)
        last = times[-1] - started
        busiest = max(bisect.bisect_left(times, at + 1.0) - n for n, at in enumerate(times))
        refused = telegram.too_many_requests - refused_before
    finally:
        await arrivals.stop()
    twice = [chat for chat, times in arrivals.at.items() if len(times) != 1]
    if len(arrivals.at) != orders or twice:
        raise BenchmarkFailure(
            f"{len(arrivals.at)} chats confirmed for {orders} orders; "
            f"{len(twice)} chats confirmed more than once"
        )
    return Burst(last, refused, busiest)
