"""Reconciliation: asking Stripe about the orders still waiting, for the webhooks that never came.

A webhook can be lost for good (our server was down for longer than Stripe retries, or the
endpoint was misconfigured). At start-up and then every few minutes, the orders still pending or
processing have their Checkout Session read back from Stripe and applied through the same
idempotent fulfilment as the webhook, so a payment always ends as a paid order and a told buyer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import stripe

from storage import MessageKind, Order, Storage
from webhooks.fulfilment import Fulfilment, Outcome

log = logging.getLogger(__name__)

EVERY_SECONDS = 300.0
# How long start-up waits for Stripe to answer its first request before going on without.
ACCESS_CHECK_SECONDS = 5.0
# Periodic runs leave the webhook a minute to arrive before asking Stripe about an order.
QUIET_SECONDS = 60
# Stripe allows 25 read requests/s in test mode for the whole account, shared with buyers' taps.
REQUESTS_PER_SECOND = 5.0
# Orders looked at per run, those looked at longest ago first: each run takes its batch to the
# back of the queue, so every waiting order is read within ceil(waiting / BATCH_SIZE) runs,
# however many ahead of it Stripe keeps answering the same for.
BATCH_SIZE = 500
# A pending order that never got a session cannot be paid once the longest link would have
# expired: Stripe expires every session within 24 hours.
ORPHAN_SECONDS = 25 * 3600


@dataclass
class Report:
    """What one reconciliation run looked at and changed."""

    checked: int = 0
    changed: Counter[Outcome] = field(default_factory=Counter)
    abandoned: int = 0  # orders that never got a session, marked failed
    retired: int = 0  # orders whose session Stripe does not know, taken out of the waiting set
    errors: int = 0


class ReconciliationWatch(Protocol):
    """Who is told what reading sessions back from Stripe found (the metrics, the guardian)."""

    def paid_without_webhook(self, source: str) -> None:
        """A session read back was paid and its order was not: its webhook never came."""
        ...

    def reconciled(self, report: Report) -> None:
        """One reconciliation run ended."""
        ...


class Reconciler:
    """Reads pending and processing orders' sessions back from Stripe, paced, and applies them."""

    def __init__(
        self,
        storage: Storage,
        client: stripe.StripeClient,
        fulfilment: Fulfilment,
        watch: ReconciliationWatch | None = None,
        *,
        admin_ids: frozenset[int] = frozenset(),
        on_queued: Callable[[], None] = lambda: None,
        batch_size: int = BATCH_SIZE,
        requests_per_second: float = REQUESTS_PER_SECOND,
    ) -> None:
        self._storage = storage
        self._client = client
        self._fulfilment = fulfilment
        self._watch = watch
        self._admin_ids = admin_ids
        self._on_queued = on_queued
        self._batch_size = batch_size
        self._pause = 1 / requests_per_second
        self._task: asyncio.Task[None] | None = None
        self._running = asyncio.Lock()

    def start(self) -> None:
        """Run now in the background, then every few minutes."""
        self._task = asyncio.create_task(self._every_few_minutes(), name="reconciliation")

    async def stop(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _every_few_minutes(self) -> None:
        # The first run, at start-up, looks at every waiting order: webhooks may have been
        # missed while the process was down. Later runs leave recent orders to their webhook.
        # With several replicas on one database, one of them runs at a time (the store's
        # periodic turn); the others skip that run.
        quiet_seconds = 0
        while True:
            try:
                async with self._storage.periodic_turn("reconciliation") as mine:
                    if mine:
                        report = await self.run(quiet_seconds=quiet_seconds)
                        if report.checked or report.abandoned:
                            log.info("reconciliation: %s", describe(report))
                    else:
                        log.debug("reconciliation: another replica has the turn")
            except Exception:  # the next run tries again; this loop must not die
                log.exception("reconciliation failed")
            quiet_seconds = QUIET_SECONDS
            await asyncio.sleep(EVERY_SECONDS)

    async def run(self, *, quiet_seconds: int = 0) -> Report:
        """One pass over the orders still waiting, except those changed in the last
        `quiet_seconds`; one pass at a time."""
        async with self._running:
            now = int(time.time())
            report = Report()
            report.abandoned = await self._storage.fail_orphans(now - ORPHAN_SECONDS)
            orders = await self._storage.waiting_orders(now - quiet_seconds, self._batch_size)
            # Their turn is taken before they are read: one that fails every time goes to the
            # back of the queue like the rest.
            await self._storage.take_turns([order.id for order in orders])
            for number, order in enumerate(orders):
                if number:
                    await asyncio.sleep(self._pause)
                try:
                    outcome = await self.check(order, source="reconciliation")
                except stripe.InvalidRequestError as exc:
                    if exc.http_status == 404 and exc.code == "resource_missing":
                        report.retired += await self._retire(order)
                    else:
                        log.warning("reconciliation: order %s: Stripe said %s", order.id, exc)
                        report.errors += 1
                    continue
                except stripe.StripeError as exc:
                    log.warning("reconciliation: order %s: Stripe said %s", order.id, exc)
                    report.errors += 1
                    continue
                report.checked += 1
                if outcome is not Outcome.UNCHANGED:
                    report.changed[outcome] += 1
            if self._watch is not None:
                self._watch.reconciled(report)
            return report

    async def _retire(self, order: Order) -> bool:
        """Stripe does not know the order's session (it was made with other keys: a database
        moved from test keys to live ones): it can never be read back, so it leaves the
        waiting set, flagged, and every admin is told once. False if it was retired before."""
        reason = (
            f"Stripe does not know its Checkout Session {order.checkout_session_id}"
            " (made with other Stripe keys?): no longer checked"
        )
        async with self._storage.transaction() as tx:
            if not await tx.retire_order(order.id, reason):
                return False
            for admin_id in sorted(self._admin_ids):
                await tx.enqueue(admin_id, MessageKind.ALERT_FLAGGED, order.id, detail=reason)
        self._on_queued()
        log.error("order %s: %s", order.id, reason)
        return True

    async def check_access(self) -> None:
        """One cheap request at start-up. It tells the owner at once when Stripe refuses the
        key, and it does what stripe-python does on its first request (TLS set-up, its user
        agent, which runs `uname`), which would otherwise slow the first buyer's tap."""
        try:
            await asyncio.wait_for(
                self._client.v1.checkout.sessions.list_async({"limit": 1}), ACCESS_CHECK_SECONDS
            )
        except stripe.AuthenticationError as exc:
            log.error("Stripe refused STRIPE_SECRET_KEY: %s", exc.user_message or exc)
        except (stripe.StripeError, TimeoutError) as exc:
            log.warning("Stripe could not be reached at start-up: %r", exc)
        stripe.checkout.Session  # noqa: B018 - imports the class sessions are built as

    async def check(self, order: Order, *, source: str) -> Outcome:
        """Read one order's session back from Stripe and apply what it says."""
        if order.checkout_session_id is None:
            return Outcome.UNCHANGED
        session = await self._client.v1.checkout.sessions.retrieve_async(
            order.checkout_session_id, {"expand": ["payment_intent"]}
        )
        data: dict[str, Any] = session.to_dict()
        intent = data.get("payment_intent")
        intent_status = intent.get("status") if isinstance(intent, Mapping) else None
        outcome = await self._fulfilment.apply_session(
            data, source=source, payment_intent_status=intent_status
        )
        if outcome is Outcome.PAID and self._watch is not None:
            self._watch.paid_without_webhook(source)
        return outcome

    async def payment_intent_metadata(self, payment_intent_id: str) -> Mapping[str, Any] | None:
        """A PaymentIntent's metadata, asked of Stripe; None if Stripe knows no such one."""
        try:
            intent = await self._client.v1.payment_intents.retrieve_async(payment_intent_id)
        except stripe.InvalidRequestError:
            return None
        metadata = intent.to_dict().get("metadata")
        return metadata if isinstance(metadata, Mapping) else {}


def describe(report: Report) -> str:
    """One line for the log and for /reconcile."""
    changes = ", ".join(f"{count} {outcome.value}" for outcome, count in report.changed.items())
    return (
        f"{report.checked} checked, {changes or 'nothing changed'}"
        f"{f', {report.abandoned} abandoned without a link' if report.abandoned else ''}"
        f"{f', {report.retired} unknown to Stripe, flagged' if report.retired else ''}"
        f"{f', {report.errors} Stripe errors' if report.errors else ''}"
    )
