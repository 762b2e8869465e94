"""The guardian: judges the shop's health every minute and tells every admin, through the
outbox, when a condition starts (again at most once an hour while it lasts) and when it ends.

What it told and when lives in the database, so that whichever replica has the turn (or a
restarted process) knows: a condition still present is told again only once its hour is up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.ops.conditions import Condition, Finding
from bot.ops.watch import Facts, Watch
from storage import MessageKind, Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GuardLimits:
    """When a condition counts; tests pass others (a disk threshold above any free space)."""

    every_seconds: float = 60.0
    repeat_seconds: float = 3600.0
    outbox_age_seconds: float = 300.0
    checkout_failures_in_a_row: int = 3
    disk_free_bytes: int = 200 * 1024 * 1024
    disk_free_share: float = 0.02


GUARD_LIMITS = GuardLimits()


class Guardian:
    """Turns the watch's facts and the database's figures into findings, and findings into
    messages for the admins."""

    def __init__(
        self,
        storage: Storage,
        watch: Watch,
        *,
        admin_ids: frozenset[int],
        database_path: Path | None,
        on_queued: Callable[[], None],
        limits: GuardLimits = GUARD_LIMITS,
        clock: Callable[[], float] = time.time,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """`clock`: Unix seconds, the same for every process on the database (when each
        condition was told is kept there); the watch's clock. `wall_clock`: Unix seconds, for
        the age of what waits in the outbox."""
        self._storage = storage
        self._facts = watch.facts
        self._admin_ids = admin_ids
        self._database_path = database_path
        self._on_queued = on_queued
        self._limits = limits
        self._clock = clock
        self._wall_clock = wall_clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._every_minute(), name="guardian")

    async def stop(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _every_minute(self) -> None:
        while True:
            await asyncio.sleep(self._limits.every_seconds)
            try:
                # One replica at a time speaks: they share a database, an outbox and
                # settings, and the balancer spreads the work, so one replica's facts stand
                # for all, and the admins hear of a condition once, not once per replica.
                async with self._storage.periodic_turn("guardian") as mine:
                    if mine:
                        await self.check()
                    else:
                        log.debug("guardian: another replica has the turn")
            except Exception:  # the next look may go better; this loop must not die
                log.exception("the guardian could not check the shop's health")

    async def check(self) -> list[str]:
        """Judge every condition now; queue and return what the admins are to be told."""
        now = self._clock()
        remembered = await self._storage.guardian_told()
        told = dict(remembered)
        messages: list[str] = []
        for finding in await self.findings():
            condition = finding.condition
            if finding.active:
                last = told.get(condition.value)
                if last is None or now - last >= self._limits.repeat_seconds:
                    messages.append(finding.warning())
                    told[condition.value] = now
                    log.warning("guardian: %s: %s", condition.value, finding.figures)
            elif condition.value in told:
                del told[condition.value]
                messages.append(finding.cleared())
                log.info("guardian: %s resolved", condition.value)
        if messages and self._admin_ids:
            async with self._storage.transaction() as tx:
                for text in messages:
                    for admin_id in sorted(self._admin_ids):
                        await tx.enqueue(admin_id, MessageKind.HEALTH_ALERT, None, detail=text)
            self._on_queued()
        # Remembered once queued: a crash in between tells once more rather than never.
        if told != remembered:
            await self._storage.remember_guardian_told(told)
        return messages

    async def findings(self) -> list[Finding]:
        """Every condition, active or not, with its figures (also what /health shows)."""
        facts, limits = self._facts, self._limits
        return [
            _webhook_not_reaching(facts),
            _signature_mismatch(facts),
            await self._outbox_stuck(),
            self._refused(Condition.TELEGRAM_TOKEN_REFUSED, facts.telegram_refused_since),
            self._refused(Condition.STRIPE_KEY_REFUSED, facts.stripe_refused_since),
            Finding(
                Condition.CHECKOUT_FAILING,
                facts.checkout_failures_in_a_row >= limits.checkout_failures_in_a_row,
                f"{facts.checkout_failures_in_a_row} failed in a row",
            ),
            self._disk(),
        ]

    async def _outbox_stuck(self) -> Finding:
        backlog = await self._storage.outbox_backlog()
        oldest = backlog.oldest_queued_at
        age = 0.0 if oldest is None else max(self._wall_clock() - oldest, 0.0)
        return Finding(
            Condition.OUTBOX_STUCK,
            age > self._limits.outbox_age_seconds,
            f"{backlog.waiting} waiting, the oldest for {_duration(age)}",
        )

    def _refused(self, condition: Condition, since: float | None) -> Finding:
        if since is None:
            return Finding(condition, False, "accepted at the last request")
        return Finding(condition, True, f"for {_duration(self._clock() - since)}")

    def _disk(self) -> Finding:
        if self._database_path is None:
            # PostgreSQL keeps its files on its own server, which watches its own disk.
            return Finding(Condition.DISK_NEARLY_FULL, False, "the database is not on this disk")
        usage = shutil.disk_usage(self._database_path.parent)
        limits = self._limits
        low = usage.free < max(limits.disk_free_bytes, usage.total * limits.disk_free_share)
        gib = 1024**3
        return Finding(
            Condition.DISK_NEARLY_FULL,
            low,
            f"{usage.free / gib:.1f} GiB free of {usage.total / gib:.1f} GiB",
        )


def _webhook_not_reaching(facts: Facts) -> Finding:
    count = facts.payments_without_webhook
    return Finding(
        Condition.WEBHOOK_NOT_REACHING,
        count > 0,
        f"{count} payments found by asking Stripe since the last webhook came",
    )


def _signature_mismatch(facts: Facts) -> Finding:
    count = facts.bad_signatures
    return Finding(
        Condition.SIGNATURE_MISMATCH,
        count > 0,
        f"{count} webhook requests failed the signature check since the last good one",
    )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
