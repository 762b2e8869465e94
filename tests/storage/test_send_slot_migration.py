"""Migration 0022 on a PostgreSQL database in use: the send slots and chats' turns that replicas
took before the upgrade are kept by the one-statement reserve_send_slot after it. (SQLite keeps
its slots in memory; its 0022 changes nothing.)"""

from __future__ import annotations

import time

import pytest

from storage.postgres.migrate import available_migrations
from storage.send_slots import SlotGrid
from tests.databases import fetch, opened_storage, write_schema_up_to

BEFORE = 21  # the last migration before the send slot became one statement


async def test_slots_taken_before_the_upgrade_are_kept(postgres_url: str) -> None:
    assert next(m.version for m in available_migrations() if m.version > BEFORE) == 22
    grid = SlotGrid(30)
    now = time.time() + 60  # ahead, so that nothing has passed and been dropped meanwhile
    first = grid.first(now)
    # As the code before 0022 stored them: the next two slots taken, and chat 5's next
    # message not before ten slots on.
    await write_schema_up_to(
        postgres_url,
        BEFORE,
        [
            "INSERT INTO outbox_pace_slots (at)"
            f" VALUES ({grid.micros(first)}), ({grid.micros(first + 1)})",
            "INSERT INTO outbox_pace_chats (chat_id, free_from)"
            f" VALUES (5, {grid.micros(first + 10)})",
        ],
    )

    async with opened_storage(postgres_url) as store:
        other = await store.reserve_send_slot(6, now, grid)
        chat_five = await store.reserve_send_slot(5, now, grid)

    assert other == pytest.approx(grid.starts(first + 2), abs=1e-6)
    assert chat_five == pytest.approx(grid.starts(first + 10), abs=1e-6)
    rows = await fetch(postgres_url, "SELECT version FROM schema_migrations WHERE version = 22")
    assert rows == [{"version": 22}]
    (chat,) = await fetch(postgres_url, "SELECT free_from FROM outbox_pace_chats WHERE chat_id = 5")
    assert chat["free_from"] == grid.micros(first + 10 + grid.slots_per_chat)
