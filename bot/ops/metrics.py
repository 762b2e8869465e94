"""The shop's Prometheus metrics, in a registry of their own (one per Service, none global)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# From a webhook arriving at once to one Stripe retried for a day.
EVENT_DELAY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400)
API_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    """Every metric the shop exports. Label values come from small fixed sets (event types,
    results, API methods), never from a buyer, an order or an id."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.checkout_sessions = Counter(
            "checkout_bot_checkout_sessions",
            "Checkout Sessions asked of Stripe, by result (created, failed).",
            ["result"],
            registry=registry,
        )
        self.webhook_requests = Counter(
            "checkout_bot_stripe_webhook_requests",
            "Requests to POST /stripe/webhook, by event type and result"
            " (paid, duplicate, not_ours, refused, error for a 5xx…).",
            ["event_type", "result"],
            registry=registry,
        )
        self.signature_failures = Counter(
            "checkout_bot_stripe_webhook_signature_failures",
            "Webhook requests whose signature does not match STRIPE_WEBHOOK_SECRET.",
            registry=registry,
        )
        self.event_to_commit = Histogram(
            "checkout_bot_stripe_event_to_commit_seconds",
            "From the creation of a Stripe event to the COMMIT of what it changed.",
            buckets=EVENT_DELAY_BUCKETS,
            registry=registry,
        )
        self.paid_without_webhook = Counter(
            "checkout_bot_payments_found_without_webhook",
            "Paid sessions found by reading Stripe back before their webhook came, by source.",
            ["source"],
            registry=registry,
        )
        self.outbox_waiting = Gauge(
            "checkout_bot_outbox_waiting_messages",
            "Chat messages queued and not sent yet.",
            registry=registry,
        )
        self.outbox_oldest_age = Gauge(
            "checkout_bot_outbox_oldest_waiting_age_seconds",
            "Age of the oldest chat message waiting in the outbox (0 when none waits).",
            registry=registry,
        )
        self.outbox_sends = Counter(
            "checkout_bot_outbox_sends",
            "Outbox sends by what Telegram answered (sent, 429, 403, error).",
            ["result"],
            registry=registry,
        )
        self.telegram_requests = Histogram(
            "checkout_bot_telegram_api_request_duration_seconds",
            "Bot API requests by method (getUpdates lasts as long as its long poll).",
            ["method"],
            buckets=API_BUCKETS,
            registry=registry,
        )
        self.telegram_errors = Counter(
            "checkout_bot_telegram_api_errors",
            "Bot API requests that failed, by method and HTTP status (network: no answer).",
            ["method", "status"],
            registry=registry,
        )
        self.stripe_requests = Histogram(
            "checkout_bot_stripe_api_request_duration_seconds",
            "Stripe API requests by operation, retries included.",
            ["operation"],
            buckets=API_BUCKETS,
            registry=registry,
        )
        self.stripe_errors = Counter(
            "checkout_bot_stripe_api_errors",
            "Stripe API requests that failed, by operation and HTTP status (network: no answer).",
            ["operation", "status"],
            registry=registry,
        )
        self.reconciliation_runs = Counter(
            "checkout_bot_reconciliation_runs",
            "Reconciliation runs (orders still waiting read back from Stripe).",
            registry=registry,
        )
        self.reconciliation_fixed = Counter(
            "checkout_bot_reconciliation_fixed_orders",
            "Orders a reconciliation run changed, by what it did (paid, expired, abandoned…).",
            ["outcome"],
            registry=registry,
        )
        self.reconciliation_errors = Counter(
            "checkout_bot_reconciliation_errors",
            "Orders a reconciliation run could not ask Stripe about.",
            registry=registry,
        )
        self.orders = Gauge(
            "checkout_bot_orders", "Orders by status.", ["status"], registry=registry
        )

    def render(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)
