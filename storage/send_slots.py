"""Send slots: when each outgoing message may go, within a cap for all chats together and a
spacing for each chat. The rule is here, beside the store, because on PostgreSQL the slots are
shared by every process on the database; SQLite's one process keeps them in memory.

Time is cut into slots (1/30 s at 30 messages a second): one message per slot overall, and a
chat's two messages `slots_per_chat` apart. A message whose chat must wait takes the first free
slot after its chat's turn and leaves the slots before it to other chats, so one busy chat does
not hold back the messages queued behind it. With a cap of 0 there is none for all chats
together: any number of messages may share a slot, and only each chat's spacing is kept.

Slots are numbered from the Unix epoch (slot n starts at n × interval seconds), so processes
that read the same clock number them alike; the store keeps them as microseconds, so that a
change of the cap (a restart with another TELEGRAM_MESSAGES_PER_SECOND) reads them rightly.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

# With no cap for all chats together, sends are still placed on a grid this fine (slots a
# second), only they may share a slot.
_FINEST_GRID = 1000.0
# Past slots and chats are forgotten once there are this many of them (in memory).
_REMEMBERED = 10_000


@dataclass(frozen=True, slots=True)
class SlotGrid:
    """The limits: `per_second` messages a second in all (0: no cap), and `seconds_per_chat`
    between two messages to one chat."""

    per_second: float
    seconds_per_chat: float = 1.0

    def __post_init__(self) -> None:
        if self.per_second < 0 or self.seconds_per_chat < 0:
            raise ValueError("a pace is 0 (no cap) or a positive rate")

    @property
    def exclusive(self) -> bool:
        """Whether a slot holds one message at most (there is a cap)."""
        return self.per_second > 0

    @property
    def slots_per_second(self) -> float:
        return self.per_second if self.exclusive else _FINEST_GRID

    @property
    def interval(self) -> float:
        return 1.0 / self.slots_per_second

    @property
    def slots_per_chat(self) -> int:
        return math.ceil(self.seconds_per_chat * self.slots_per_second)

    def first(self, now: float) -> int:
        """The first slot that has not begun at `now`."""
        return math.ceil(now / self.interval)

    def starts(self, slot: int) -> float:
        return slot * self.interval

    def micros(self, slot: int) -> int:
        """When the slot starts, in whole microseconds of the Unix clock (as stored)."""
        return round(slot * 1_000_000 / self.slots_per_second)

    def slot_at(self, micros: int) -> int:
        """The slot that starts at `micros` (the nearest, for one of another grid)."""
        return round(micros * self.slots_per_second / 1_000_000)


def place(grid: SlotGrid, first: int, taken: Collection[int], chat_free_from: int | None) -> int:
    """The slot for a message: from `first` on, not before its chat's `chat_free_from`, and
    (with a cap) none of the slots `taken`."""
    slot = max(first, chat_free_from if chat_free_from is not None else first)
    if grid.exclusive:
        while slot in taken:
            slot += 1
    return slot


class SlotBook:
    """The slots taken, in one process's memory."""

    def __init__(self) -> None:
        self._grid: SlotGrid | None = None
        self._taken: set[int] = set()
        self._chat_free_from: dict[int, int] = {}

    def reserve(self, chat_id: int | None, now: float, grid: SlotGrid) -> float:
        """Take the slot for a message to `chat_id` (None: no chat's spacing); when it starts
        (on `now`'s clock)."""
        if grid != self._grid:
            self._regrid(grid)
        first = grid.first(now)
        chat_free_from = None if chat_id is None else self._chat_free_from.get(chat_id)
        slot = place(grid, first, self._taken, chat_free_from)
        if grid.exclusive:
            self._taken.add(slot)
        if chat_id is not None:
            self._chat_free_from[chat_id] = slot + grid.slots_per_chat
        if len(self._taken) > _REMEMBERED:
            # The slot under way is kept: the bot's answers may still take it.
            self._taken = {taken for taken in self._taken if taken >= first - 1}
        if len(self._chat_free_from) > _REMEMBERED:
            self._chat_free_from = {c: s for c, s in self._chat_free_from.items() if s > first}
        return grid.starts(slot)

    def _regrid(self, grid: SlotGrid) -> None:
        """Number the slots taken on the grid of another cap: the same times, other numbers."""
        old, self._grid = self._grid, grid
        if old is not None:
            self._taken = {grid.slot_at(old.micros(slot)) for slot in self._taken}
            self._chat_free_from = {
                chat: grid.slot_at(old.micros(slot)) for chat, slot in self._chat_free_from.items()
            }
