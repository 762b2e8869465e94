"""Following what the bot sends to the Telegram emulator, call by call, as it happens."""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable
from typing import Any

from sandbox.telegram_api import ApiCall, TelegramEmulator

Matcher = Callable[[ApiCall], bool]


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


def pay_link(call: ApiCall) -> bool:
    """A sendMessage that Telegram took, holding a URL button (the Checkout link)."""
    return (
        call.method == "sendMessage"
        and call.status == 200
        and any("url" in button for button in buttons(call.response["result"]))
    )


def confirmation(call: ApiCall) -> bool:
    return (
        call.method == "sendMessage"
        and call.status == 200
        and "Payment received" in str(call.params.get("text", ""))
    )


class Arrivals:
    """The arrival time (monotonic, at the emulator) of each matching call, per chat."""

    def __init__(self, telegram: TelegramEmulator, matches: Matcher) -> None:
        self._telegram = telegram
        self._matches = matches
        self._index = len(telegram.calls)
        self.at: dict[int, list[float]] = {}
        self._waiters: dict[int, asyncio.Future[float]] = {}
        self._task: asyncio.Task[None] | None = None
        self._counted = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    @property
    def count(self) -> int:
        return sum(len(times) for times in self.at.values())

    def next_in(self, chat_id: int) -> asyncio.Future[float]:
        """Resolves with the arrival time of the next matching call to that chat."""
        future = asyncio.get_running_loop().create_future()
        self._waiters[chat_id] = future
        return future

    async def wait_for_count(self, count: int, timeout: float) -> None:  # noqa: ASYNC109
        """Raises TimeoutError unless `count` matching calls arrived within `timeout` seconds."""
        async with asyncio.timeout(timeout):
            while self.count < count:
                self._counted.clear()
                await self._counted.wait()

    def _has_news(self) -> bool:
        calls = self._telegram.calls
        return self._index < len(calls) and calls[self._index].status != 0

    async def _follow(self) -> None:
        calls = self._telegram.calls
        while True:
            await self._telegram.wait_until(self._has_news, timeout=3600)
            # Calls finish out of order; take them in arrival order as each one finishes.
            while self._index < len(calls) and calls[self._index].status != 0:
                call = calls[self._index]
                self._index += 1
                if self._matches(call):
                    chat_id = int(call.params["chat_id"])
                    self.at.setdefault(chat_id, []).append(call.at)
                    waiter = self._waiters.pop(chat_id, None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(call.at)
                    self._counted.set()


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (share in 0…100)."""
    ordered = sorted(values)
    rank = max(1, round(share / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)
