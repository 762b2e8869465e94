"""What several processes on one database decide in it (the Storage protocol's side): the
periodic turn, the buyers' pace, the turn at a product, the catalog's version, the Telegram
updates taken. Two stores on
one database stand for two replicas; every test runs on both backends unless it says why."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from storage import Storage
from storage.updates import KEPT_SECONDS
from tests.databases import fetch, opened_storage, replicas_on


@pytest.fixture
async def two_stores(database_url: str) -> AsyncIterator[tuple[Storage, Storage]]:
    """Two stores on one PostgreSQL database; on SQLite, whose file one process opens, that
    process's store twice (what it keeps in memory must still hold for all its callers)."""
    if database_url.startswith("sqlite"):
        async with opened_storage(database_url) as store:
            yield store, store
        return
    async with replicas_on(database_url) as stores:
        yield stores


async def test_the_periodic_turn_is_one_replicas_at_a_time(postgres_url: str) -> None:
    """PostgreSQL only: on SQLite one process has the file, and the turn is always its own."""
    async with replicas_on(postgres_url) as (first, second):
        async with first.periodic_turn("reconciliation") as mine:
            assert mine
            async with second.periodic_turn("reconciliation") as theirs:
                assert not theirs
            # Another kind of periodic work is not held up by this one.
            async with second.periodic_turn("guardian") as other:
                assert other
        async with second.periodic_turn("reconciliation") as theirs:
            assert theirs


async def test_a_replica_that_dies_loses_its_periodic_turn(postgres_url: str) -> None:
    async with (
        replicas_on(postgres_url) as (first, second),
        first.periodic_turn("reconciliation") as mine,
    ):
        assert mine
        # The holder's connection ends as it would when its process is killed.
        ended = await fetch(
            postgres_url,
            "SELECT pg_terminate_backend(pid) AS ended FROM pg_locks"
            " WHERE locktype = 'advisory' AND granted AND pid != pg_backend_pid()"
            # This test's database only: other tests run beside it on the same server.
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        assert [row["ended"] for row in ended] == [True]
        async with second.periodic_turn("reconciliation") as theirs:
            assert theirs


async def test_a_buyers_pace_is_counted_across_replicas(
    two_stores: tuple[Storage, Storage],
) -> None:
    first, second = two_stores
    assert await first.pace_tap(4242, 1000.0, 60.0, 3) == 0
    assert await second.pace_tap(4242, 1010.0, 60.0, 3) == 0
    assert await first.pace_tap(4242, 1020.0, 60.0, 3) == 0
    # The fourth within the minute waits until the first leaves the window, on either replica.
    assert await second.pace_tap(4242, 1030.0, 60.0, 3) == pytest.approx(30.0)
    assert await first.pace_tap(4242, 1040.0, 60.0, 3) == pytest.approx(20.0)
    # Another buyer has a pace of their own.
    assert await second.pace_tap(4343, 1040.0, 60.0, 3) == 0
    # A refused tap is not counted: once the first has left the window, one more goes ahead.
    assert await second.pace_tap(4242, 1060.5, 60.0, 3) == 0
    assert await first.pace_tap(4242, 1061.0, 60.0, 3) == pytest.approx(9.0)


async def test_taps_racing_on_two_replicas_are_counted_one_after_another(
    two_stores: tuple[Storage, Storage],
) -> None:
    first, second = two_stores
    waits = await asyncio.gather(
        *(
            (first if number % 2 else second).pace_tap(4242, 1000.0 + number / 100, 60.0, 5)
            for number in range(12)
        )
    )
    assert sum(1 for wait in waits if wait == 0) == 5


async def test_a_buyers_turn_at_a_product_is_held_by_one_replica(postgres_url: str) -> None:
    """PostgreSQL only: on SQLite the one process's own lock is the turn."""
    async with replicas_on(postgres_url) as (first, second):
        assert await second.buy_turn_holder(4242, "forest-hiker", 1000.0) is None
        assert await first.take_buy_turn(4242, "forest-hiker", "replica-a", 1000.0, 1090.0)
        assert not await second.take_buy_turn(4242, "forest-hiker", "replica-b", 1001.0, 1091.0)
        assert await second.buy_turn_holder(4242, "forest-hiker", 1001.0) == "replica-a"
        # The same buyer's other product, and another buyer's same product, are free.
        assert await second.take_buy_turn(4242, "sea-explorer", "replica-b", 1001.0, 1091.0)
        assert await second.take_buy_turn(4343, "forest-hiker", "replica-b", 1001.0, 1091.0)
        # Only its holder ends a turn.
        await second.end_buy_turn(4242, "forest-hiker", "replica-b")
        assert not await second.take_buy_turn(4242, "forest-hiker", "replica-b", 1002.0, 1092.0)
        await first.end_buy_turn(4242, "forest-hiker", "replica-a")
        assert await second.take_buy_turn(4242, "forest-hiker", "replica-b", 1003.0, 1093.0)


async def test_a_turn_left_by_a_killed_replica_runs_out(postgres_url: str) -> None:
    async with replicas_on(postgres_url) as (first, second):
        assert await first.take_buy_turn(4242, "forest-hiker", "replica-a", 1000.0, 1090.0)
        assert not await second.take_buy_turn(4242, "forest-hiker", "replica-b", 1089.0, 1179.0)
        assert await second.buy_turn_holder(4242, "forest-hiker", 1090.0) is None  # run out
        assert await second.take_buy_turn(4242, "forest-hiker", "replica-b", 1090.0, 1180.0)
        # The late holder's end no longer ends the new holder's turn.
        await first.end_buy_turn(4242, "forest-hiker", "replica-a")
        assert not await first.take_buy_turn(4242, "forest-hiker", "replica-a", 1100.0, 1190.0)


async def test_a_reload_on_one_replica_moves_the_version_all_of_them_read(
    two_stores: tuple[Storage, Storage],
) -> None:
    first, second = two_stores
    assert await second.catalog_version() == 0
    assert await first.bump_catalog_version() == 1
    assert await second.catalog_version() == 1
    assert await second.bump_catalog_version() == 2
    assert await first.catalog_version() == 2


async def test_a_telegram_update_is_taken_once_whichever_replica_it_reaches(
    two_stores: tuple[Storage, Storage],
) -> None:
    """Telegram may deliver an update twice; its id is forgotten after a day."""
    first, second = two_stores
    assert await first.first_sight_of_update(7, 1000.0)
    assert not await second.first_sight_of_update(7, 1001.0)
    assert not await first.first_sight_of_update(7, 1002.0)
    assert await second.first_sight_of_update(8, 1002.0)
    # A day on, a thousandth update (or, in memory, any) forgets the day-old ids.
    assert await first.first_sight_of_update(1000, 1000.0 + KEPT_SECONDS + 1)
    assert await second.first_sight_of_update(7, 1000.0 + KEPT_SECONDS + 2)
