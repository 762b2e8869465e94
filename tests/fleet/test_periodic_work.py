"""Periodic work runs on one replica at a time: while another replica holds the turn, a
replica's reconciliation and guardian skip their run; once the turn is free, they run. Two
stores on one PostgreSQL database stand for two replicas (on SQLite the turn is always the
one process's)."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from bot.ops.guardian import Guardian, GuardLimits
from bot.ops.metrics import Metrics
from bot.ops.watch import Watch
from sandbox.stripe_api import StripeEmulator
from storage import OrderStatus
from tests.databases import fetch, replicas_on
from tests.helpers import until
from tests.stripe_sandbox import (
    make_client,
    orders_with_open_sessions,
    stripe_http,
    webhook_receiver,
)
from webhooks.fulfilment import Fulfilment
from webhooks.reconciliation import Reconciler, Report


async def rows_of(url: str, sql: str) -> list[dict[str, Any]]:
    """The query's rows once there are some (at most 5 s)."""
    found: list[dict[str, Any]] = []

    async def some() -> bool:
        found[:] = await fetch(url, sql)
        return bool(found)

    await until(some, what=f"rows for {sql}", every=0.01)
    return found


class Runs:
    """Reconciliation's watch: the runs that ended."""

    def __init__(self) -> None:
        self.reports: list[Report] = []

    def paid_without_webhook(self, source: str) -> None:
        pass

    def reconciled(self, report: Report) -> None:
        self.reports.append(report)


async def test_reconciliation_skips_its_run_while_another_replica_has_the_turn(
    postgres_url: str, stripe_api: StripeEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="webhooks.reconciliation")
    async with (
        replicas_on(postgres_url) as (first, second),
        stripe_http() as http,
        webhook_receiver(stripe_api),  # the webhook goes elsewhere: reconciliation must find it
    ):
        ((_, session_id),) = await orders_with_open_sessions(second, stripe_api, 1)
        await stripe_api.pay(session_id)
        runs = Runs()
        client = make_client(stripe_api, http)
        fulfilment = Fulfilment(second, admin_ids=frozenset(), on_queued=lambda: None)
        reconciler = Reconciler(second, client, fulfilment, runs)

        async with first.periodic_turn("reconciliation") as mine:
            assert mine
            reconciler.start()
            await until(lambda: "another replica has the turn" in caplog.text)
            await reconciler.stop()
        assert runs.reports == []
        orders = await fetch(postgres_url, "SELECT status FROM orders")
        assert [row["status"] for row in orders] == [OrderStatus.PENDING.value]

        reconciler.start()
        await until(lambda: bool(runs.reports))
        await reconciler.stop()
        orders = await fetch(postgres_url, "SELECT status FROM orders")
        assert [row["status"] for row in orders] == [OrderStatus.PAID.value]


async def test_one_replicas_guardian_tells_the_admins(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.ops.guardian")
    async with replicas_on(postgres_url) as (first, second):
        watch = Watch(Metrics())
        watch.refused(bad_signature=True)  # a condition to tell the admins of
        guardian = Guardian(
            second,
            watch,
            admin_ids=frozenset({1}),
            database_path=None,
            on_queued=lambda: None,
            limits=GuardLimits(every_seconds=0.01),
        )
        alerts = "SELECT detail FROM outbox WHERE kind = 'health_alert'"

        async with first.periodic_turn("guardian") as mine:
            assert mine
            guardian.start()
            await until(lambda: "another replica has the turn" in caplog.text)
            await guardian.stop()
        assert await fetch(postgres_url, alerts) == []

        guardian.start()
        try:
            told = await rows_of(postgres_url, alerts)
        finally:
            await guardian.stop()
        assert len(told) == 1 and "signature" in told[0]["detail"]


class Later:
    """Unix seconds, moved on by the test."""

    def __init__(self) -> None:
        self.shift = 0.0

    def __call__(self) -> float:
        return time.time() + self.shift


async def test_the_guardian_remembers_what_it_told_when_the_turn_moves(postgres_url: str) -> None:
    """Each replica sees the same lasting condition; whichever has the turn, the admins hear
    of it once an hour while it lasts, and once when it ends."""
    async with replicas_on(postgres_url) as stores:
        clock = Later()
        watches = [Watch(Metrics(), clock=clock) for _ in stores]
        guardians = [
            Guardian(
                store,
                watch,
                admin_ids=frozenset({1}),
                database_path=None,
                on_queued=lambda: None,
                clock=clock,
            )
            for store, watch in zip(stores, watches, strict=True)
        ]
        for watch in watches:
            watch.refused(bad_signature=True)
        alerts = "SELECT detail FROM outbox WHERE kind = 'health_alert' ORDER BY id"

        (warning,) = await guardians[0].check()
        assert "signing secret does not match" in warning
        assert await guardians[1].check() == []
        clock.shift += 3600
        assert await guardians[1].check() == [warning]
        assert await guardians[0].check() == []

        for watch in watches:
            watch.answered("checkout.session.completed", "paid", None)
        (cleared,) = await guardians[0].check()
        assert cleared.startswith("✅ Resolved: the signing secret does not match")
        assert await guardians[1].check() == []
        told = [row["detail"] for row in await fetch(postgres_url, alerts)]
        assert told == [warning, warning, cleared]
