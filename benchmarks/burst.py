"""(3) Confirmation burst: N orders paid at once, confirmed under Telegram's flood limits."""

from __future__ import annotations

import time

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


async def run(context: RunContext) -> list[Figure]:
    if context.peers is None:
        raise BenchmarkFailure("needs ../shared/peers (loadgen/gen.py); pass --peers DIR")
    orders = 300 if context.quick else 1_000
    floor = orders / TELEGRAM_RATE
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
        arrivals = Arrivals(telegram, confirmation)
        try:
            await bot.wait_until_answering("/healthz")
            refused_before = telegram.too_many_requests
            arrivals.start()
            started = time.monotonic()
            load = await run_wrk(bot.url, requests, orders, 64)
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
            last = max(max(times) for times in arrivals.at.values()) - started
            refused = telegram.too_many_requests - refused_before
        finally:
            await arrivals.stop()
            await bot.stop()
        twice = [chat for chat, times in arrivals.at.items() if len(times) != 1]
        if len(arrivals.at) != orders or twice:
            raise BenchmarkFailure(
                f"{len(arrivals.at)} chats confirmed for {orders} orders; "
                f"{len(twice)} chats confirmed more than once"
            )
    database.expect_counts(db, {database.PAID_ORDERS: orders, database.SENT_MESSAGES: orders})
    return [
        Figure(NAME, f"{orders} confirmations: time to last", last, "s", at_most(floor * 1.05)),
        Figure(NAME, "429 answers caused", refused, "", at_most(0)),
        Figure(NAME, "floor (N / 30 per s)", floor, "s"),
    ]
