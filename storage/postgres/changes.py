"""What the replicas on one database tell each other: "a message was queued", "the catalog was
reloaded" (PostgreSQL's LISTEN/NOTIFY), so that none has to poll the database often to learn it.

A notification is sent after the COMMIT that holds the change, never inside its transaction:
PostgreSQL serialises the commits of notifying transactions under one lock held through their
WAL flush, which measured a quarter to a third fewer commits a second at the webhook's
concurrency. Sent after the COMMIT, a replica woken by it sees the change. Announcements are
coalesced (at most one a channel per GAP_SECONDS per replica): under load a replica's own
sender is awake anyway, and the others need one nudge, not one per event.

A notification can be lost: the listening connection drops, the NOTIFY fails after the COMMIT.
So the listener reconnects and then wakes every follower once (what was queued meanwhile is
looked at), and the followers keep a slow poll as a safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from typing import Any

import asyncpg

from storage.models import Change

log = logging.getLogger(__name__)

# What asyncpg and the server raise for a failed statement or a lost connection.
_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)
# At most one NOTIFY a channel this often per replica; a change within the gap is announced
# at its end.
GAP_SECONDS = 0.05
# How often the listening connection is checked with a query: a connection cut without a
# word (a network partition) shows itself only when used.
CHECK_SECONDS = 60.0
# After a failed connection, before the next try: doubled after each failure in a row, up to
# the most (a database away for long is not asked, nor logged, every second).
RECONNECT_SECONDS = 1.0
MOST_RECONNECT_SECONDS = 30.0
CONNECT_SECONDS = 10.0
# The listening connection's application_name, as pg_stat_activity shows it.
LISTENER_NAME = "checkout-bot listener"


def channel(change: Change) -> str:
    return f"checkout_bot_{change.value}"


class Changes:
    """Announces this replica's changes and hears the others', on connections of its own."""

    def __init__(self, url: str) -> None:
        self._url = url
        # In each notification's payload, so that a replica ignores its own.
        self.origin = secrets.token_hex(8)
        self._followers: dict[Change, Callable[[], None]] = {}
        self._pending: set[Change] = set()
        self._announcing: asyncio.Task[None] | None = None
        self._listening: asyncio.Task[None] | None = None
        self._announcer: asyncpg.Connection | None = None
        self._closed = False
        # How many times the listener was connected and listening.
        self._connections = 0

    def follow(self, change: Change, callback: Callable[[], None]) -> None:
        """Call `callback` when another replica announces `change` (and after a reconnect)."""
        self._followers[change] = callback
        if self._listening is None:
            self._listening = asyncio.create_task(self._listen(), name="postgres-listen")

    def announce(self, change: Change) -> None:
        """Tell the other replicas, soon, that `change` was committed."""
        if self._closed:
            return
        self._pending.add(change)
        if self._announcing is None or self._announcing.done():
            self._announcing = asyncio.create_task(self._announce(), name="postgres-notify")

    async def close(self) -> None:
        self._closed = True
        for task in (self._announcing, self._listening):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._announcing = self._listening = None
        await _close(self._announcer)
        self._announcer = None

    async def _announce(self) -> None:
        while self._pending:
            pending, self._pending = self._pending, set()
            try:
                if self._announcer is None or self._announcer.is_closed():
                    self._announcer = await asyncpg.connect(self._url, timeout=CONNECT_SECONDS)
                for change in sorted(pending):
                    await self._announcer.execute(
                        "SELECT pg_notify($1, $2)", channel(change), self.origin
                    )
            except _ERRORS as exc:
                # The others' slow poll finds the change; the next announcement reconnects.
                log.warning("could not tell the other replicas of %s: %s", sorted(pending), exc)
                await _close(self._announcer)
                self._announcer = None
            await asyncio.sleep(GAP_SECONDS)

    async def _listen(self) -> None:
        """Keep a connection listening on every followed channel, reconnecting when it drops."""
        pause = RECONNECT_SECONDS
        while True:
            try:
                connection = await asyncpg.connect(
                    self._url,
                    timeout=CONNECT_SECONDS,
                    server_settings={"application_name": LISTENER_NAME},
                )
            except _ERRORS as exc:
                log.warning("cannot listen to the other replicas: %s; trying again", exc)
                await asyncio.sleep(pause)
                pause = min(pause * 2, MOST_RECONNECT_SECONDS)
                continue
            pause = RECONNECT_SECONDS
            try:
                await self._serve(connection)
                log.warning("the connection listening to the other replicas closed")
            except _ERRORS as exc:
                log.warning("lost the connection listening to the other replicas: %s", exc)
            finally:
                await _close(connection)
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _serve(self, connection: asyncpg.Connection) -> None:
        """Listen on `connection` until it is lost."""
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        # Every channel, whoever follows it yet: a follower added later needs no new LISTEN.
        for change in Change:
            await connection.add_listener(channel(change), self._heard)
        reconnected = self._connections > 0
        self._connections += 1
        if reconnected:
            # What the others announced while no one listened is looked at now.
            for callback in list(self._followers.values()):
                callback()
        while not connection.is_closed():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), CHECK_SECONDS)
            if not lost.is_set():
                await connection.fetchval("SELECT 1", timeout=CONNECT_SECONDS)

    def _heard(self, connection: Any, pid: int, name: str, payload: str) -> None:
        if payload == self.origin:
            return
        for change, callback in list(self._followers.items()):
            if channel(change) == name:
                callback()


async def _close(connection: asyncpg.Connection | None) -> None:
    if connection is None or connection.is_closed():
        return
    try:
        await connection.close(timeout=CONNECT_SECONDS)
    except _ERRORS:
        connection.terminate()
