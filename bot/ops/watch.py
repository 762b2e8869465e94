"""What the bot sees happen, told by the hooks in the payment path and the API clients: counted
in the metrics, and kept as the facts the guardian judges."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client.metrics import MetricWrapperBase

from bot.ops.metrics import Metrics
from webhooks.fulfilment import SESSION_EVENTS
from webhooks.reconciliation import Report
from webhooks.refunds import CHARGE_EVENTS, REFUND_EVENTS

KNOWN_EVENTS = SESSION_EVENTS | CHARGE_EVENTS | REFUND_EVENTS
# Results that committed something for the event (its id at least): its delay is measured.
COMMITTED = frozenset(
    {"paid", "processing", "failed", "expired", "refunded", "refund_undone", "unchanged"}
)
SOURCES = {"reconciliation": "reconciliation", "buyer's return": "buyer_return"}
CHECKOUT_CREATE = "POST /v1/checkout/sessions"


@dataclass
class Facts:
    """What the guardian judges, as the watch last saw it (times from the injected clock)."""

    last_verified_webhook: float | None = None
    # Since the last verified webhook: cleared by the next one.
    bad_signatures: int = 0
    payments_without_webhook: int = 0
    telegram_refused_since: float | None = None
    stripe_refused_since: float | None = None
    checkout_failures_in_a_row: int = 0


class Watch:
    """The hooks' one receiver: the webhook's and reconciliation's watch, and the API clients'
    and the outbox sender's callbacks."""

    def __init__(
        self,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.time,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.metrics = metrics
        self.facts = Facts()
        self._clock = clock
        self._wall_clock = wall_clock
        # The labelled children counted so far, by metric and label values (small fixed sets).
        self._children: dict[tuple[MetricWrapperBase, tuple[str, ...]], Any] = {}

    def _child(self, metric: MetricWrapperBase, *labels: str) -> Any:
        """metric.labels(*labels), looked up once: labels() checks and copies the values and
        takes a lock on every call, which was a few percent of a webhook event's CPU."""
        key = (metric, labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    # POST /stripe/webhook

    def refused(self, *, bad_signature: bool) -> None:
        self._child(self.metrics.webhook_requests, "unknown", "refused").inc()
        if bad_signature:
            self.metrics.signature_failures.inc()
            self.facts.bad_signatures += 1

    def answered(self, event_type: str, result: str, created: int | None) -> None:
        label = event_type if event_type in KNOWN_EVENTS else "other"
        self._child(self.metrics.webhook_requests, label, result).inc()
        if result == "error":
            return
        self.facts.last_verified_webhook = self._clock()
        self.facts.bad_signatures = 0
        self.facts.payments_without_webhook = 0
        if created is not None and result in COMMITTED:
            self.metrics.event_to_commit.observe(max(self._wall_clock() - created, 0.0))

    # Reading Stripe back

    def paid_without_webhook(self, source: str) -> None:
        self.metrics.paid_without_webhook.labels(SOURCES.get(source, "other")).inc()
        self.facts.payments_without_webhook += 1

    def reconciled(self, report: Report) -> None:
        metrics = self.metrics
        metrics.reconciliation_runs.inc()
        for outcome, count in report.changed.items():
            metrics.reconciliation_fixed.labels(outcome.value).inc(count)
        if report.abandoned:
            metrics.reconciliation_fixed.labels("abandoned").inc(report.abandoned)
        if report.errors:
            metrics.reconciliation_errors.inc(report.errors)

    # The API clients and the outbox

    def telegram_call(self, method: str, status: int | None, seconds: float) -> None:
        """One Bot API request: its status (None: no answer came) and how long it took."""
        label = method if method.isalpha() and len(method) <= 40 else "other"
        self._child(self.metrics.telegram_requests, label).observe(seconds)
        if status is None or status >= 400:
            self.metrics.telegram_errors.labels(label, _status(status)).inc()
        if status == 401:
            self.facts.telegram_refused_since = self.facts.telegram_refused_since or self._clock()
        elif status is not None and status < 400:
            self.facts.telegram_refused_since = None

    def stripe_call(self, operation: str, status: int | None, seconds: float) -> None:
        """One Stripe API request (its retries included), as `METHOD /v1/path/{id}`."""
        metrics, facts = self.metrics, self.facts
        metrics.stripe_requests.labels(operation).observe(seconds)
        failed = status is None or status >= 400
        if failed:
            metrics.stripe_errors.labels(operation, _status(status)).inc()
        if status == 401:
            facts.stripe_refused_since = facts.stripe_refused_since or self._clock()
        elif not failed:
            facts.stripe_refused_since = None
        if operation == CHECKOUT_CREATE:
            metrics.checkout_sessions.labels("failed" if failed else "created").inc()
            facts.checkout_failures_in_a_row = facts.checkout_failures_in_a_row + 1 if failed else 0

    def outbox_send(self, result: str) -> None:
        self._child(self.metrics.outbox_sends, result).inc()


def _status(status: int | None) -> str:
    return "network" if status is None else str(status)
