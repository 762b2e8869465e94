"""(4) Footprint: process start to /healthz 200, and resident memory when idle."""

from __future__ import annotations

import asyncio

from benchmarks.chats import median
from benchmarks.context import RunContext, bot_settings
from benchmarks.figures import Figure, at_most
from benchmarks.processes import free_port, memory_bytes, start_bot
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TELEGRAM_LIMITS, TelegramEmulator

NAME = "footprint"
STARTS = 3
SETTLE_SECONDS = 1.0
MB = 1024 * 1024


async def run(context: RunContext) -> list[Figure]:
    seconds: list[float] = []
    idle: list[int] = []
    async with (
        TelegramEmulator(rate_limits=TELEGRAM_LIMITS) as telegram,
        StripeEmulator() as stripe_api,
    ):
        for attempt in range(STARTS):
            folder = context.folder(f"{NAME}/{attempt}")
            settings = bot_settings(telegram, stripe_api, folder / "shop.db")
            bot = await start_bot(settings, folder, free_port())
            try:
                seconds.append(await bot.wait_until_answering("/healthz"))
                await asyncio.sleep(SETTLE_SECONDS)
                idle.append(memory_bytes(bot.pid, "VmRSS"))
            finally:
                await bot.stop()
    return [
        Figure(NAME, f"start to healthy (median of {STARTS})", median(seconds), "s", at_most(2)),
        Figure(NAME, "RSS idle", median([float(value) for value in idle]) / MB, "MB", at_most(80)),
    ]
