"""An answer's send slot (bot/outbox/budget.py): at once in the slot under way when it is free.
At Telegram's rate it takes that slot only; at a cap of a few messages a second it keeps the
following one too, so that the next message cannot go right after it."""

from __future__ import annotations

from pathlib import Path

from bot.outbox.budget import SharedBudget
from storage import Storage
from storage.send_slots import SlotGrid
from tests.databases import opened_storage


async def answer(budget: SharedBudget) -> list[str]:
    """One sendMessage through the budget; what was sent."""
    sent: list[str] = []

    async def send() -> bool:
        sent.append("sendMessage")
        return True

    await budget.process_request(send, (), {}, "sendMessage", {}, None)
    return sent


async def next_free(store: Storage, grid: SlotGrid, now: float) -> float:
    """When the next message would go, the slot under way counted if it is free."""
    return await store.reserve_send_slot(None, now - grid.interval, grid)


async def test_at_telegrams_rate_an_answer_takes_the_slot_under_way_and_only_it(
    tmp_path: Path,
) -> None:
    """Taking the following slot as well made every answer cost two slots: 20 taps a second
    wanted 40 of the 30, and the answers queued."""
    grid, now = SlotGrid(30), 1000.01  # a third into slot 30,000
    async with opened_storage(f"sqlite:///{tmp_path / 'shop.db'}") as store:
        # A confirmation already holds the next slot.
        assert await store.reserve_send_slot(None, now, grid) == grid.starts(30_001)

        assert await answer(SharedBudget(store, 30, clock=lambda: now)) == ["sendMessage"]

        assert await next_free(store, grid, now) == grid.starts(30_002)


async def test_at_a_cap_of_a_few_a_second_an_answer_keeps_the_following_slot_too(
    tmp_path: Path,
) -> None:
    """Slots of two seconds: an answer late in one and a message at the next one's start
    would be two messages at once, where the owner asked for one every two seconds."""
    grid, now = SlotGrid(0.5), 1001.5  # late in slot 500 (1000 to 1002)
    async with opened_storage(f"sqlite:///{tmp_path / 'shop.db'}") as store:
        assert await answer(SharedBudget(store, 0.5, clock=lambda: now)) == ["sendMessage"]

        assert await next_free(store, grid, now) == grid.starts(502)
