"""Group commit: transactions that arrive together share one COMMIT, yet each stays its own."""

from __future__ import annotations

import asyncio
import resource
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from storage import MessageKind, OrderStatus, SQLiteStorage, StorageError
from tests.helpers import new_order, rows


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "shop.db"


@pytest.fixture
async def store(path: Path) -> AsyncIterator[SQLiteStorage]:
    async with SQLiteStorage(path) as storage:
        yield storage


def stored_events(path: Path) -> list[str]:
    """What another connection sees: only committed work."""
    return [row["id"] for row in rows(path, "SELECT id FROM stripe_events ORDER BY id")]


async def remember(store: SQLiteStorage, event_id: str) -> None:
    async with store.transaction() as tx:
        assert await tx.remember_event(event_id, "checkout.session.completed")


async def test_transactions_that_arrive_together_share_a_commit_and_wait_for_it(
    store: SQLiteStorage, path: Path
) -> None:
    inside, gate = asyncio.Event(), asyncio.Event()

    async def held_open() -> None:
        async with store.transaction() as tx:
            await tx.remember_event("evt_b", "checkout.session.completed")
            inside.set()
            await gate.wait()

    first = asyncio.create_task(remember(store, "evt_a"))
    second = asyncio.create_task(held_open())
    await inside.wait()
    # The first block is over, but its work shares the COMMIT still to come with the second.
    assert not first.done()
    assert stored_events(path) == []
    gate.set()
    await asyncio.gather(first, second)
    assert stored_events(path) == ["evt_a", "evt_b"]


async def test_a_block_that_raises_undoes_only_its_own_work(
    store: SQLiteStorage, path: Path
) -> None:
    order = await store.create_order_within_stock(new_order(), stock={})

    async def fails() -> None:
        async with store.transaction() as tx:
            await tx.remember_event("evt_b", "checkout.session.completed")
            assert await tx.advance(order, OrderStatus.PAID, source="test")
            await tx.enqueue(order.chat_id, MessageKind.PAYMENT_RECEIVED, order.id)
            raise RuntimeError("the caller's own failure")

    results = await asyncio.gather(
        remember(store, "evt_a"), fails(), remember(store, "evt_c"), return_exceptions=True
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], RuntimeError)
    assert stored_events(path) == ["evt_a", "evt_c"]
    stored = await store.get_order(order.id)
    assert stored is not None and stored.status is OrderStatus.PENDING
    assert rows(path, "SELECT * FROM outbox") == []


async def test_a_statement_that_fails_is_a_storage_error_for_that_caller_only(
    store: SQLiteStorage, path: Path
) -> None:
    async def refers_to_no_order() -> None:
        async with store.transaction() as tx:
            await tx.remember_event("evt_b", "checkout.session.completed")
            await tx.enqueue(7, MessageKind.PAYMENT_RECEIVED, 999_999)  # a foreign key fails

    results = await asyncio.gather(
        remember(store, "evt_a"), refers_to_no_order(), remember(store, "evt_c"),
        return_exceptions=True,
    )  # fmt: skip
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], StorageError)
    assert "FOREIGN KEY" in str(results[1])
    assert stored_events(path) == ["evt_a", "evt_c"]


class FileSizeCap:
    """A full disk: this process may not write files past a size (RLIMIT_FSIZE)."""

    def __init__(self) -> None:
        self._original = resource.getrlimit(resource.RLIMIT_FSIZE)

    def cap(self, size: int) -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, self._original[1]))

    def lift(self) -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, self._original)


@pytest.fixture
def disk() -> Iterator[FileSizeCap]:
    # Past the cap, write() fails with EFBIG instead of the process being killed by SIGXFSZ.
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    cap = FileSizeCap()
    try:
        yield cap
    finally:
        cap.lift()
        signal.signal(signal.SIGXFSZ, previous)


async def test_a_failed_commit_fails_every_caller_in_its_batch(
    store: SQLiteStorage, path: Path, disk: FileSizeCap
) -> None:
    wal = path.with_name(path.name + "-wal")

    async def fills_the_disk() -> None:
        async with store.transaction() as tx:
            await tx.remember_event("evt_b", "checkout.session.completed")
            # From here the write-ahead log cannot grow: the COMMIT cannot be written.
            disk.cap(wal.stat().st_size)

    results = await asyncio.gather(
        remember(store, "evt_a"), fills_the_disk(), return_exceptions=True
    )
    disk.lift()
    assert all(isinstance(result, StorageError) for result in results), results
    assert "cannot commit" in str(results[0])
    assert stored_events(path) == []
    # The store goes on working, and nothing of the failed batch was kept.
    await remember(store, "evt_a")
    assert stored_events(path) == ["evt_a"]
