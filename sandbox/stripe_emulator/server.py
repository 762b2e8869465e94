"""The Stripe emulator: an aiohttp server on 127.0.0.1 that the real stripe-python talks to.

It answers the v1 API the bot uses (Checkout Sessions, and what a webhook or
reconciliation may read back: PaymentIntents, Charges, Refunds, Events,
Products and Prices) with Stripe's rules for authentication, versions, form
encoding and idempotency. It plays the buyer's part (paying, or letting a
session expire) and the owner's (refunding from the Dashboard, keeping a
catalog), and delivers the signed webhook events that follow, retrying them
with backoff until they are acknowledged, as Stripe does.

Where it knowingly differs from Stripe:

- Only ``payment`` mode Checkout, paid by card (or a delayed method whose
  charge is ``py_…`` but still shows card details); no customers, invoices,
  disputes, Connect, tax or shipping.
- Only the events the bot subscribes to are sent: ``checkout.session.*``,
  ``charge.refunded`` and ``refund.created`` (no ``payment_intent.*``,
  ``charge.succeeded``, …). Events carry the API version of the request that
  made the session (or the refund), not an endpoint's pinned version.
- Refunds succeed at once (no ``pending`` refunds, so no ``refund.updated``).
- Retries run on a schedule scaled to tests (``retry_delays``), not Stripe's
  hours and days; Stripe does not publish its exact intervals.
- Rate limiting counts requests per whole second of ``clock`` for the whole
  account; Stripe also limits per endpoint and by concurrency.
- Products and Prices are read-only over the API; tests add them with
  ``add_product`` / ``add_price``. Checkout line items still take only
  ``price_data``: a ``price`` id is answered as unknown.
- An outage is all or nothing (every request fails), and a webhook is only
  ever sent to one endpoint, ``webhook_url``.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hmac
import json
import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, NoReturn, Self

from aiohttp import web

from . import charges, objects, products, refunds
from .checkout import Account, parse_create
from .errors import StripeError, invalid_request, mask_key, resource_missing
from .faults import Dropped, Faults
from .forms import FormError, decode_form, parse_form
from .listing import LIST_PARAMS, check_expand, created_filter, list_expand, paginate
from .params import (
    child,
    read_array,
    read_expand,
    read_hash,
    read_string,
    reject_unknown,
)
from .webhooks import DEFAULT_RETRY_DELAYS, Delivery, PendingRetry, WebhookSender

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_RETRY_DELAYS",
    "ApiRequest",
    "Delivery",
    "PendingRetry",
    "StripeEmulator",
]

# The version stripe-python 16.1 pins and sends in Stripe-Version; used when a
# request names none (the account default) and for events built by tests.
DEFAULT_API_VERSION = "2026-10-28.endive"

IDEMPOTENCY_KEY_MAX_LENGTH = 255
# Stripe prunes a key once it is at least 24 hours old (docs.stripe.com/api/idempotent_requests);
# the emulator forgets it at exactly 24 hours, the soonest Stripe may.
IDEMPOTENCY_KEY_LIFETIME = 24 * 3600.0
_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}(\.[a-z]+)?")
_NO_API_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
_SESSION_EXPANDABLE_NULLS = ("customer", "invoice", "payment_link", "setup_intent", "subscription")


@dataclass
class ApiRequest:
    """One API request as the emulator received and answered it (status 0: dropped)."""

    method: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]
    status: int
    response: dict[str, Any]
    request_id: str = ""
    replayed: bool = False


@dataclass(frozen=True)
class _Call:
    params: dict[str, Any]
    path_args: tuple[str, ...]
    api_version: str
    request_id: str
    idempotency_key: str | None


@dataclass(frozen=True)
class _StoredResult:
    """A response kept under an idempotency key, replayed byte for byte."""

    endpoint: str
    params: dict[str, Any]
    status: int
    body: bytes
    headers: dict[str, str]
    request_id: str
    # The emulator's clock when it was stored: it is forgotten IDEMPOTENCY_KEY_LIFETIME later.
    stored_at: float


Handler = Callable[[_Call], dict[str, Any]]


@dataclass
class _SessionState:
    """What the emulator keeps beside a session object: none of it is in Stripe's shape."""

    api_version: str
    line_items: list[dict[str, Any]]
    payment_intent_data: dict[str, Any]


class StripeEmulator:
    """The Stripe API on ``base_url``, plus the buyer, the owner and the webhook sender of a test.

    Everything it answers and sends is kept for the test to read: ``sessions``,
    ``payment_intents``, ``charges``, ``refunds``, ``products``, ``prices``
    (current state, Stripe's shape), ``requests``, ``events`` and ``deliveries``.
    """

    def __init__(
        self,
        api_key: str = "sk_test_emulator_fake_key",
        webhook_secret: str = "whsec_emulator_fake_secret",
        *,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        retries: bool = True,
        rate_limit_per_second: int | None = None,
    ) -> None:
        self.api_key = api_key
        self.base_url = ""
        # Seconds since the epoch; tests may replace it to move time.
        self.clock: Callable[[], float] = time.time
        self.delivery_timeout = 10.0

        self.sessions: dict[str, dict[str, Any]] = {}
        self.payment_intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        self.prices: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.requests: list[ApiRequest] = []
        # The account's webhook endpoints as the dashboard shows them (GET /v1/webhook_endpoints);
        # deliveries still go to ``webhook_url``, whatever is listed here.
        self.webhook_endpoints: dict[str, dict[str, Any]] = {}

        self._webhooks = WebhookSender(
            webhook_secret,
            retry_delays=retry_delays if retries else (),
            clock=lambda: self.clock(),
            on_acknowledged=self._acknowledged,
        )
        self._faults = Faults(rate_limit_per_second)
        # While set (hold_requests), API requests wait for it before they are answered.
        self._gate: asyncio.Event | None = None
        self._held = asyncio.Condition()
        self.held_requests = 0
        self._state: dict[str, _SessionState] = {}
        self._idempotent: dict[tuple[str, str], _StoredResult] = {}
        self._runner: web.AppRunner | None = None
        catalog = products.Catalog(self.products, self.prices)
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("POST", re.compile(r"/v1/checkout/sessions"), self._create_session),
            ("GET", re.compile(r"/v1/checkout/sessions"), self._list_sessions),
            ("GET", re.compile(r"/v1/checkout/sessions/([^/]+)"), self._retrieve_session),
            ("POST", re.compile(r"/v1/checkout/sessions/([^/]+)/expire"), self._expire_session),
            ("GET", re.compile(r"/v1/checkout/sessions/([^/]+)/line_items"), self._line_items),
            ("GET", re.compile(r"/v1/payment_intents/([^/]+)"), self._retrieve_payment_intent),
            ("GET", re.compile(r"/v1/charges/([^/]+)"), self._retrieve_charge),
            ("POST", re.compile(r"/v1/refunds"), self._create_refund),
            ("GET", re.compile(r"/v1/refunds"), self._list_refunds),
            ("GET", re.compile(r"/v1/refunds/([^/]+)"), self._retrieve_refund),
            ("GET", re.compile(r"/v1/products"), lambda call: catalog.list_products(call.params)),
            (
                "GET",
                re.compile(r"/v1/products/([^/]+)"),
                lambda call: catalog.retrieve_product(call.params, *call.path_args),
            ),
            ("GET", re.compile(r"/v1/prices"), lambda call: catalog.list_prices(call.params)),
            (
                "GET",
                re.compile(r"/v1/prices/([^/]+)"),
                lambda call: catalog.retrieve_price(call.params, *call.path_args),
            ),
            ("GET", re.compile(r"/v1/events"), self._list_events),
            ("GET", re.compile(r"/v1/webhook_endpoints"), self._list_webhook_endpoints),
            ("GET", re.compile(r"/v1/events/([^/]+)"), self._retrieve_event),
        ]

    # -- settings kept by the webhook sender and the fault injector ----------------------

    @property
    def webhook_url(self) -> str | None:
        """Where events go; ``None`` (no endpoint) also stops retries still scheduled."""
        return self._webhooks.url

    @webhook_url.setter
    def webhook_url(self, url: str | None) -> None:
        self._webhooks.url = url

    @property
    def webhook_secret(self) -> str:
        return self._webhooks.secret

    @webhook_secret.setter
    def webhook_secret(self, secret: str) -> None:
        self._webhooks.secret = secret

    @property
    def deliveries(self) -> list[Delivery]:
        """Every webhook POST, retries and duplicates included, in the order answered."""
        return self._webhooks.deliveries

    @property
    def rate_limit_per_second(self) -> int | None:
        return self._faults.rate_limit_per_second

    @rate_limit_per_second.setter
    def rate_limit_per_second(self, limit: int | None) -> None:
        self._faults.rate_limit_per_second = limit

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        self._webhooks.timeout = self.delivery_timeout
        await self._webhooks.start()

    async def close(self) -> None:
        await self._webhooks.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # -- the buyer's side ----------------------------------------------------------

    async def pay(self, session_id: str) -> Delivery:
        """The buyer pays by card on the hosted page: ``checkout.session.completed``, paid."""
        self._webhooks.require_endpoint()
        session = self._open_session(session_id)
        self._complete(session, paid=True)
        return await self._webhooks.send(self._emit("checkout.session.completed", session))

    async def complete_unpaid(self, session_id: str) -> Delivery:
        """The buyer chooses a delayed payment method: completed, but not paid yet."""
        self._webhooks.require_endpoint()
        session = self._open_session(session_id)
        self._complete(session, paid=False)
        return await self._webhooks.send(self._emit("checkout.session.completed", session))

    async def async_payment_succeeded(self, session_id: str) -> Delivery:
        """The delayed payment of a completed, unpaid session arrives."""
        self._webhooks.require_endpoint()
        session = self._awaiting_payment(session_id)
        intent = self.payment_intents[session["payment_intent"]]
        intent.update(status="succeeded", amount_received=intent["amount"])
        charges.capture(self.charges[intent["latest_charge"]])
        session["payment_status"] = "paid"
        event = self._emit("checkout.session.async_payment_succeeded", session)
        return await self._webhooks.send(event)

    async def async_payment_failed(self, session_id: str) -> Delivery:
        """The delayed payment of a completed, unpaid session fails."""
        self._webhooks.require_endpoint()
        session = self._awaiting_payment(session_id)
        intent = self.payment_intents[session["payment_intent"]]
        intent["status"] = "requires_payment_method"
        charges.fail(self.charges[intent["latest_charge"]])
        event = self._emit("checkout.session.async_payment_failed", session)
        return await self._webhooks.send(event)

    def line_items(self, session_id: str) -> list[dict[str, Any]]:
        """A session's line items in Stripe's shape, as its hosted page lists them."""
        if session_id not in self.sessions:
            raise ValueError(f"no checkout session {session_id!r}")
        return copy.deepcopy(self._state[session_id].line_items)

    def decline_card(self, session_id: str) -> dict[str, str]:
        """The buyer's card is declined on the hosted page (Stripe's test card 4000 0000 0000
        0002): the page shows Stripe's error and the session stays open for another try.
        Returns that error. No event follows: Stripe's ``payment_intent.payment_failed`` and
        ``charge.failed`` are not among the events this emulator sends."""
        self._open_session(session_id)
        return {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "generic_decline",
            "message": "Your card was declined.",
        }

    async def expire_session(self, session_id: str) -> Delivery:
        """The session reaches its ``expires_at`` unpaid: ``checkout.session.expired``."""
        self._webhooks.require_endpoint()
        session = self._open_session(session_id)
        _mark_expired(session)
        return await self._webhooks.send(self._emit("checkout.session.expired", session))

    def _open_session(self, session_id: str) -> dict[str, Any]:
        session = self.sessions.get(session_id)
        if session is None:
            raise ValueError(f"no checkout session {session_id!r}")
        if session["status"] != "open":
            raise ValueError(f"checkout session {session_id} is {session['status']}, not open")
        return session

    def _awaiting_payment(self, session_id: str) -> dict[str, Any]:
        session = self.sessions.get(session_id)
        if session is None or session["status"] != "complete":
            raise ValueError(f"checkout session {session_id!r} is not complete")
        if session["payment_status"] != "unpaid":
            raise ValueError(f"checkout session {session_id} is already paid")
        intent = self.payment_intents[session["payment_intent"]]
        if intent["status"] != "processing":
            raise ValueError(f"the payment of checkout session {session_id} already failed")
        return session

    def _complete(self, session: dict[str, Any], *, paid: bool) -> None:
        state = self._state[session["id"]]
        intent = objects.build_payment_intent(
            session,
            state.payment_intent_data,
            status="succeeded" if paid else "processing",
            created=self._now(),
        )
        details = objects.completed_customer_details(session["customer_email"])
        charge = charges.build_charge(
            intent,
            status="succeeded" if paid else "pending",
            created=self._now(),
            email=details["email"],
        )
        intent["latest_charge"] = charge["id"]
        self.payment_intents[intent["id"]] = intent
        self.charges[charge["id"]] = charge
        session.update(
            status="complete",
            payment_status="paid" if paid else "unpaid",
            payment_intent=intent["id"],
            customer_details=details,
            collected_information=objects.completed_collected_information(),
            url=None,
        )

    # -- the owner's side ------------------------------------------------------------

    async def refund(
        self,
        payment_intent_id: str,
        amount: int | None = None,
        *,
        reason: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> list[Delivery]:
        """The owner refunds from the Dashboard: no API request, the same objects and events.

        Refunds what is left when ``amount`` is ``None``. Raises ``ValueError``
        with Stripe's message where the API would refuse. Returns the deliveries
        of ``charge.refunded`` and ``refund.created``, in the order sent.
        """
        self._webhooks.require_endpoint()
        intent = self.payment_intents.get(payment_intent_id)
        if intent is None:
            raise ValueError(f"no payment intent {payment_intent_id!r}")
        if reason is not None and reason not in refunds.REASONS:
            raise ValueError(f"reason must be one of {refunds.REASONS}")
        if amount is not None and amount < 1:
            raise ValueError("amount must be a positive integer")
        spec = refunds.RefundSpec(None, payment_intent_id, amount, reason, dict(metadata or {}))
        try:
            events = self._make_refund(spec, api_version=self._version_of(intent))
        except StripeError as error:
            raise ValueError(error.message) from None
        return [await self._webhooks.send(event) for event in events]

    async def fail_refund(
        self, refund_id: str, failure_reason: str = "expired_or_canceled_card"
    ) -> list[Delivery]:
        """A succeeded refund the card's bank sends back (a closed card): the money returns to
        the balance, the charge's refunded total goes down, and ``charge.refund.updated`` and
        ``refund.failed`` follow. Returns their deliveries."""
        self._webhooks.require_endpoint()
        refund = self.refunds.get(refund_id)
        if refund is None or refund["status"] != "succeeded":
            raise ValueError(f"no succeeded refund {refund_id!r}")
        if failure_reason not in refunds.FAILURE_REASONS:
            raise ValueError(f"failure_reason must be one of {refunds.FAILURE_REASONS}")
        refund.update(
            status="failed",
            failure_reason=failure_reason,
            failure_balance_transaction=objects.new_id("txn_"),
        )
        charge = self.charges[refund["charge"]]
        charges.record_refund(charge, -int(refund["amount"]))
        intent = self.payment_intents[charge["payment_intent"]]
        version = self._version_of(intent)
        return [
            await self._webhooks.send(self._emit(type, refund, api_version=version))
            for type in ("charge.refund.updated", "refund.failed")
        ]

    def add_product(
        self,
        *,
        name: str,
        id: str | None = None,
        description: str | None = None,
        images: Sequence[str] = (),
        active: bool = True,
        metadata: dict[str, str] | None = None,
        default_price: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Put a product in the account, with ``default_price={"unit_amount", "currency"}``."""
        if id is not None and id in self.products:
            raise ValueError(f"a product {id!r} already exists")
        product = products.build_product(
            id=id,
            name=name,
            description=description,
            images=images,
            active=active,
            metadata=dict(metadata or {}),
            created=self._now(),
        )
        price = None
        if default_price is not None:
            unknown = set(default_price) - {"unit_amount", "currency"}
            if unknown:
                raise ValueError(f"default_price takes unit_amount and currency, not {unknown}")
            price = products.build_price(
                product=product["id"],
                unit_amount=default_price["unit_amount"],
                currency=default_price["currency"],
                active=True,
                metadata={},
                created=self._now(),
            )
            product["default_price"] = price["id"]
        self.products[product["id"]] = product
        if price is not None:
            self.prices[price["id"]] = price
        return copy.deepcopy(product)

    def add_price(
        self,
        product_id: str,
        *,
        unit_amount: int,
        currency: str,
        active: bool = True,
        metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Put one more one-time price on an existing product."""
        if product_id not in self.products:
            raise ValueError(f"no product {product_id!r}")
        price = products.build_price(
            product=product_id,
            unit_amount=unit_amount,
            currency=currency,
            active=active,
            metadata=dict(metadata or {}),
            created=self._now(),
        )
        self.prices[price["id"]] = price
        return copy.deepcopy(price)

    # -- events and webhooks -------------------------------------------------------

    def add_webhook_endpoint(
        self,
        url: str,
        enabled_events: Sequence[str] = ("*",),
        *,
        status: str = "enabled",
        api_version: str | None = None,
    ) -> dict[str, Any]:
        """An endpoint made in the dashboard, in Stripe's shape (its secret is never listed)."""
        endpoint_id = objects.new_id("we_")
        endpoint: dict[str, Any] = {
            "id": endpoint_id,
            "object": "webhook_endpoint",
            "api_version": api_version,
            "application": None,
            "created": self._now(),
            "description": None,
            "enabled_events": list(enabled_events),
            "livemode": False,
            "metadata": {},
            "status": status,
            "url": url,
        }
        self.webhook_endpoints[endpoint_id] = endpoint
        return copy.deepcopy(endpoint)

    def build_event(self, type: str, obj: dict[str, Any]) -> dict[str, Any]:
        """An event envelope around a deep copy of ``obj``, with a fresh ``evt_`` id."""
        return objects.build_event(type, obj, api_version=DEFAULT_API_VERSION, created=self._now())

    def _emit(
        self,
        type: str,
        obj: dict[str, Any],
        *,
        api_version: str | None = None,
        request_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Create and keep (for ``GET /v1/events``) an event about a session (or ``obj``)."""
        event = objects.build_event(
            type,
            obj,
            api_version=api_version or self._state[obj["id"]].api_version,
            created=self._now(),
            request_id=request_id,
            idempotency_key=idempotency_key,
        )
        self.events.append(event)
        return copy.deepcopy(event)

    def _acknowledged(self, event_id: str) -> None:
        # The kept event (GET /v1/events) counts the endpoints still to succeed.
        for kept in self.events:
            if kept["id"] == event_id:
                kept["pending_webhooks"] = max(0, kept["pending_webhooks"] - 1)

    def sign(self, body: bytes, *, timestamp: int | None = None, secret: str | None = None) -> str:
        """The ``Stripe-Signature`` header: ``t=<ts>,v1=<HMAC-SHA256 of "<ts>.<body>">``."""
        return self._webhooks.sign(body, timestamp=timestamp, secret=secret)

    async def deliver(
        self,
        event: dict[str, Any],
        *,
        body: bytes | None = None,
        signature_header: str | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> Delivery:
        """POST an event to ``webhook_url`` once, signed unless told otherwise, and record it.

        A test's own tool: never retried, since it may be forged on purpose.
        """
        return await self._webhooks.post(
            event, body=body, signature_header=signature_header, timestamp=timestamp, secret=secret
        )

    async def deliver_all(
        self,
        events: Sequence[dict[str, Any]],
        *,
        concurrency: int = 8,
        duplicate_share: float = 0.0,
        shuffle: bool = True,
        seed: int = 0,
    ) -> list[Delivery]:
        """Send a batch of events the way Stripe may: concurrently, some twice, out of order.

        ``round(len(events) * duplicate_share)`` events, chosen with ``seed``, are
        sent a second time; with ``shuffle`` the whole batch is sent in an order
        drawn from ``seed``; at most ``concurrency`` POSTs are in flight. Failures
        are retried like any event Stripe sends. Returns the first attempts.
        """
        return await self._webhooks.send_all(
            events,
            concurrency=concurrency,
            duplicate_share=duplicate_share,
            shuffle=shuffle,
            seed=seed,
        )

    async def redeliver(self, event_id: str) -> Delivery:
        """Send an event again, acknowledged or not, as Stripe sometimes does (fresh signature)."""
        for delivery in self.deliveries:
            if delivery.event.get("id") == event_id:
                return await self._webhooks.send(delivery.event)
        for event in self.events:
            if event["id"] == event_id:
                return await self._webhooks.send(copy.deepcopy(event))
        raise ValueError(f"no event {event_id!r}")

    async def wait_for_delivery(
        self,
        type: str | None = None,
        *,
        object_id: str | None = None,
        # A bound by default, so that a delivery that never comes fails the test
        # instead of hanging the run.
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> Delivery:
        """The first delivery of an event of ``type`` about ``object_id``, waiting if needed.

        For events the emulator sends on its own (an API expire or refund), which
        the test did not trigger by calling ``pay``/``deliver`` itself.
        """
        await self._webhooks.wait_until(
            lambda: self._webhooks.find(type, object_id) is not None, timeout
        )
        found = self._webhooks.find(type, object_id)
        assert found is not None
        return found

    async def wait_until_acknowledged(
        self,
        event_ids: Sequence[str] | None = None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until each event (default: every event the emulator sent) got a 2xx.

        Raises ``TimeoutError`` naming none of them; ``unacknowledged()`` does.
        """
        ids = self._webhooks.sent_event_ids() if event_ids is None else list(event_ids)
        await self._webhooks.wait_until(lambda: not self._webhooks.unacknowledged(ids), timeout)

    def unacknowledged(self) -> list[str]:
        """Ids of the events the emulator sent that no delivery got a 2xx for yet."""
        return self._webhooks.unacknowledged(self._webhooks.sent_event_ids())

    def pending_retries(self) -> list[PendingRetry]:
        """The retries scheduled and not made yet, by event id and attempt."""
        return self._webhooks.pending_retries()

    async def wait_until_idle(self, *, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until no delivery is in flight and no retry is scheduled any more."""
        await self._webhooks.wait_until(self._webhooks.idle, timeout)

    # -- failure injection ---------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        error_type: str = "api_error",
        message: str = "An unknown error occurred",
        should_retry: bool | None = None,
        code: str | None = None,
    ) -> None:
        """Answer the next ``count`` API requests (not webhooks) with a Stripe error.

        The failure happens before the request reaches an endpoint, so nothing
        is created and nothing is kept under its idempotency key: a retry with
        the same key runs for real. ``status=429`` with the defaults gives
        Stripe's rate-limit error (``invalid_request_error``, code ``rate_limit``).
        """
        self._faults.fail_next(
            count,
            status=status,
            error_type=error_type,
            message=message,
            should_retry=should_retry,
            code=code,
        )

    def start_outage(self, kind: str = "api_error") -> None:
        """Every API request fails from now on: ``"api_error"`` (500), ``"unreachable"`` (no
        answer), or ``"answer_lost"`` (carried out, then no answer)."""
        self._faults.start_outage(kind)

    def end_outage(self) -> None:
        self._faults.outage_kind = None

    @asynccontextmanager
    async def outage(self, kind: str = "api_error") -> AsyncIterator[None]:
        """``async with emulator.outage(): ...``: an outage for the length of the block."""
        self.start_outage(kind)
        try:
            yield
        finally:
            self.end_outage()

    def hold_requests(self) -> None:
        """API requests wait, unanswered, until ``release_requests``: a slow Stripe, held still
        so that a test can look at what the bot does meanwhile."""
        self._gate = asyncio.Event()

    def release_requests(self) -> None:
        """Answer the held requests and stop holding new ones."""
        if self._gate is not None:
            self._gate.set()
            self._gate = None

    async def wait_until_held(self, count: int = 1, *, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until ``count`` requests have been held since the emulator started."""
        async with self._held:
            await asyncio.wait_for(
                self._held.wait_for(lambda: self.held_requests >= count), timeout
            )

    # -- HTTP --------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if (gate := self._gate) is not None:
            async with self._held:
                self.held_requests += 1
                self._held.notify_all()
            await gate.wait()
        request_id = objects.new_id("req_", 14)
        raw = await request.read()
        headers = {str(name): value for name, value in request.headers.items()}
        # Decoded first so that every recorded request shows what was sent.
        params: dict[str, Any] = {}
        decode_error: StripeError | None = None
        try:
            params = _decode_params(request, raw)
        except StripeError as error:
            decode_error = error
        extra_headers: dict[str, str] = {}
        replayed = False
        try:
            failure = self._faults.check(self.clock())
            if failure is not None:
                extra_headers.update(failure.headers)
                raise failure.error
            api_key = self._authenticate(request)
            api_version = self._api_version(request)
            extra_headers["Stripe-Version"] = api_version
            if decode_error is not None:
                raise decode_error
            handler, path_args = self._route(request.method, request.path)
            key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
            call = _Call(params, path_args, api_version, request_id, key)
            if key is not None:
                extra_headers["Idempotency-Key"] = key
                status, body, stored_headers, replayed = self._idempotent_call(
                    api_key, key, f"{request.method} {request.path}", handler, call
                )
                extra_headers.update(stored_headers)
            else:
                status, body = 200, _pretty_json(handler(call))
        except StripeError as error:
            status, body = error.status, _pretty_json(error.body(request_id))
            if status == 401:
                extra_headers["Www-Authenticate"] = 'Basic realm="Stripe"'
        except Dropped:
            self._drop(request, params, headers, request_id)
        if self._faults.loses_answers:
            # Done at Stripe (and kept under its key), but the answer never reaches the client.
            self._drop(request, params, headers, request_id, replayed=replayed)

        self.requests.append(
            ApiRequest(
                method=request.method,
                path=request.path,
                params=params,
                headers=headers,
                status=status,
                response=json.loads(body),
                request_id=request_id,
                replayed=replayed,
            )
        )
        return web.Response(
            body=body,
            status=status,
            content_type="application/json",
            headers={"Request-Id": request_id, **extra_headers},
        )

    def _drop(
        self,
        request: web.Request,
        params: dict[str, Any],
        headers: dict[str, str],
        request_id: str,
        *,
        replayed: bool = False,
    ) -> NoReturn:
        """Close the connection without an answer; the request is recorded with status 0."""
        self.requests.append(
            ApiRequest(
                request.method, request.path, params, headers, 0, {}, request_id, replayed=replayed
            )
        )
        if request.transport is not None:
            request.transport.close()
        raise web.HTTPServiceUnavailable()

    def _authenticate(self, request: web.Request) -> str:
        authorization = request.headers.get("Authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer":
            key = credentials.strip()
        elif scheme.lower() == "basic":
            # `curl -u sk_test_…:` sends the key as the user name.
            try:
                key = base64.b64decode(credentials).decode().partition(":")[0]
            except ValueError:
                key = ""
        else:
            key = ""
        if not key:
            raise StripeError(_NO_API_KEY, status=401)
        if not hmac.compare_digest(key.encode(), self.api_key.encode()):
            raise StripeError(f"Invalid API Key provided: {mask_key(key)}", status=401)
        return key

    def _api_version(self, request: web.Request) -> str:
        version = request.headers.get("Stripe-Version")
        if version is None:
            return DEFAULT_API_VERSION
        if not _VERSION.fullmatch(version):
            raise invalid_request(f"Invalid Stripe API version: {version}")
        return version

    def _route(self, method: str, path: str) -> tuple[Handler, tuple[str, ...]]:
        for route_method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                return handler, match.groups()
        raise StripeError(
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
            "or we can help at https://support.stripe.com/.",
            status=404,
        )

    def _idempotent_call(
        self, api_key: str, key: str, endpoint: str, handler: Handler, call: _Call
    ) -> tuple[int, bytes, dict[str, str], bool]:
        """Run a POST under Stripe's idempotency rules: (status, body, headers, replayed)."""
        if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
            raise invalid_request(
                f"Invalid Idempotency-Key: must be at most {IDEMPOTENCY_KEY_MAX_LENGTH} "
                f"characters, but it is {len(key)} characters long."
            )
        stored = self._idempotent.get((api_key, key))
        if stored is not None and self.clock() - stored.stored_at >= IDEMPOTENCY_KEY_LIFETIME:
            # Pruned: Stripe runs a request with a key older than that as a new one.
            del self._idempotent[(api_key, key)]
            stored = None
        if stored is not None:
            if stored.endpoint != endpoint:
                raise _idempotency_error(
                    "Keys for idempotent requests can only be used for the same endpoint they "
                    f"were first used for ('{_path(endpoint)}' vs '{_path(stored.endpoint)}'). "
                    f"Try using a key other than '{key}' if you meant to execute a different "
                    "request."
                )
            if stored.params != call.params:
                raise _idempotency_error(
                    "Keys for idempotent requests can only be used with the same parameters they "
                    f"were first used with. Try using a key other than '{key}' if you meant to "
                    "execute a different request."
                )
            replay_headers = {
                **stored.headers,
                "Idempotent-Replayed": "true",
                "Original-Request": stored.request_id,
            }
            return stored.status, stored.body, replay_headers, True

        # Only results of an endpoint that ran are kept: a request refused by
        # validation may be retried with the same key (Stripe's documented rule).
        body = _pretty_json(handler(call))
        headers = {"Original-Request": call.request_id}
        self._idempotent[(api_key, key)] = _StoredResult(
            endpoint, copy.deepcopy(call.params), 200, body, headers, call.request_id, self.clock()
        )
        return 200, body, headers, False

    # -- endpoints ---------------------------------------------------------------------

    def _create_session(self, call: _Call) -> dict[str, Any]:
        spec = parse_create(
            call.params,
            now=self._now(),
            api_version=call.api_version,
            account=Account(self.products, self.prices),
        )
        _check_session_expand(list(spec.expand))
        session = objects.build_session(spec)
        self.sessions[session["id"]] = session
        self._state[session["id"]] = _SessionState(
            api_version=call.api_version,
            line_items=[objects.build_line_item(item, spec.created) for item in spec.line_items],
            payment_intent_data=spec.payment_intent_data,
        )
        return self._render_session(session, list(spec.expand))

    def _retrieve_session(self, call: _Call) -> dict[str, Any]:
        reject_unknown(call.params, {"expand"})
        session = self._session_or_404(call.path_args[0])
        return self._render_session(session, read_expand(call.params))

    def _expire_session(self, call: _Call) -> dict[str, Any]:
        reject_unknown(call.params, {"expand"})
        session = self._session_or_404(call.path_args[0])
        if session["status"] != "open":
            raise invalid_request(
                'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout '
                f"Session has a status of `{session['status']}`."
            )
        _mark_expired(session)
        event = self._emit(
            "checkout.session.expired",
            session,
            request_id=call.request_id,
            idempotency_key=call.idempotency_key,
        )
        self._webhooks.send_later([event])
        return self._render_session(session, read_expand(call.params))

    def _list_sessions(self, call: _Call) -> dict[str, Any]:
        params = call.params
        reject_unknown(
            params,
            {
                "created",
                "customer",
                "customer_account",
                "customer_details",
                "ending_before",
                "expand",
                "limit",
                "payment_intent",
                "payment_link",
                "starting_after",
                "status",
                "subscription",
            },
        )
        sessions = list(reversed(self.sessions.values()))
        for name in ("payment_intent", "status", "customer", "payment_link", "subscription"):
            if name in params:
                wanted = read_string(params[name], name)
                sessions = [session for session in sessions if session.get(name) == wanted]
        if "customer_details" in params:
            details = read_hash(params["customer_details"], "customer_details")
            reject_unknown(details, {"email"}, "customer_details")
            email = read_string(details.get("email"), "customer_details[email]")
            sessions = [
                session
                for session in sessions
                if (session["customer_details"] or {}).get("email") == email
            ]
        sessions = created_filter(sessions, params)
        page, has_more = paginate(sessions, params, "checkout.session")
        expand = list_expand(read_expand(params))
        data = [self._render_session(session, expand) for session in page]
        return objects.list_object(data, "/v1/checkout/sessions", has_more=has_more)

    def _line_items(self, call: _Call) -> dict[str, Any]:
        reject_unknown(call.params, {"ending_before", "expand", "limit", "starting_after"})
        session = self._session_or_404(call.path_args[0])
        items = self._state[session["id"]].line_items
        page, has_more = paginate(items, call.params, "item")
        url = f"/v1/checkout/sessions/{session['id']}/line_items"
        return objects.list_object(copy.deepcopy(page), url, has_more=has_more)

    def _retrieve_payment_intent(self, call: _Call) -> dict[str, Any]:
        reject_unknown(call.params, {"client_secret", "expand"})
        intent = self.payment_intents.get(call.path_args[0])
        if intent is None:
            raise resource_missing("payment_intent", call.path_args[0], "intent")
        expand = read_expand(call.params)
        check_expand(expand, ("latest_charge",))
        rendered = copy.deepcopy(intent)
        if "latest_charge" in expand and intent["latest_charge"] is not None:
            rendered["latest_charge"] = self._render_charge(intent["latest_charge"], [])
        return rendered

    def _retrieve_charge(self, call: _Call) -> dict[str, Any]:
        reject_unknown(call.params, {"expand"})
        if call.path_args[0] not in self.charges:
            raise resource_missing("charge", call.path_args[0], "id")
        return self._render_charge(call.path_args[0], read_expand(call.params))

    def _render_charge(self, charge_id: str, expand: list[str]) -> dict[str, Any]:
        check_expand(expand, ("payment_intent", "refunds"))
        charge = copy.deepcopy(self.charges[charge_id])
        if "payment_intent" in expand:
            charge["payment_intent"] = copy.deepcopy(self.payment_intents[charge["payment_intent"]])
        if "refunds" in expand:
            mine = [r for r in reversed(self.refunds.values()) if r["charge"] == charge_id]
            url = f"/v1/charges/{charge_id}/refunds"
            charge["refunds"] = objects.list_object(copy.deepcopy(mine), url, has_more=False)
        return charge

    def _create_refund(self, call: _Call) -> dict[str, Any]:
        spec = refunds.parse_create(call.params)
        check_expand(list(spec.expand), ("charge", "payment_intent"))
        events = self._make_refund(
            spec,
            api_version=call.api_version,
            request_id=call.request_id,
            idempotency_key=call.idempotency_key,
        )
        self._webhooks.send_later(events)
        refund_id = events[-1]["data"]["object"]["id"]
        return self._render_refund(refund_id, list(spec.expand))

    def _make_refund(
        self,
        spec: refunds.RefundSpec,
        *,
        api_version: str,
        request_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> list[dict[str, Any]]:
        """Check, make and record a refund; its events, in the order Stripe sends them."""
        charge = self._refundable_charge(spec)
        left = charges.refundable(charge)
        if left <= 0:
            raise refunds.already_refunded(charge["id"])
        amount = left if spec.amount is None else spec.amount
        if amount > left:
            raise refunds.too_large(amount, left, charge["currency"])
        refund = refunds.build_refund(
            charge, amount=amount, reason=spec.reason, metadata=spec.metadata, created=self._now()
        )
        self.refunds[refund["id"]] = refund
        charges.record_refund(charge, amount)
        return [
            self._emit(
                type,
                obj,
                api_version=api_version,
                request_id=request_id,
                idempotency_key=idempotency_key,
            )
            for type, obj in (("charge.refunded", charge), ("refund.created", refund))
        ]

    def _refundable_charge(self, spec: refunds.RefundSpec) -> dict[str, Any]:
        if spec.charge is not None:
            charge = self.charges.get(spec.charge)
            if charge is None:
                raise resource_missing("charge", spec.charge, "charge")
        else:
            assert spec.payment_intent is not None
            intent = self.payment_intents.get(spec.payment_intent)
            if intent is None:
                raise resource_missing("payment_intent", spec.payment_intent, "payment_intent")
            charge = self.charges.get(intent["latest_charge"] or "")
        if charge is None or charge["status"] != "succeeded":
            intent_id = spec.payment_intent or (charge or {}).get("payment_intent", "")
            raise refunds.no_successful_charge(str(intent_id))
        return charge

    def _retrieve_refund(self, call: _Call) -> dict[str, Any]:
        reject_unknown(call.params, {"expand"})
        if call.path_args[0] not in self.refunds:
            raise resource_missing("refund", call.path_args[0], "id")
        return self._render_refund(call.path_args[0], read_expand(call.params))

    def _render_refund(self, refund_id: str, expand: list[str]) -> dict[str, Any]:
        check_expand(expand, ("charge", "payment_intent"))
        refund = copy.deepcopy(self.refunds[refund_id])
        if "charge" in expand:
            refund["charge"] = self._render_charge(refund["charge"], [])
        if "payment_intent" in expand:
            refund["payment_intent"] = copy.deepcopy(self.payment_intents[refund["payment_intent"]])
        return refund

    def _list_refunds(self, call: _Call) -> dict[str, Any]:
        params = call.params
        reject_unknown(params, LIST_PARAMS | {"charge", "payment_intent"})
        found = list(reversed(self.refunds.values()))
        for name in ("charge", "payment_intent"):
            if name in params:
                wanted = read_string(params[name], name)
                found = [refund for refund in found if refund[name] == wanted]
        found = created_filter(found, params)
        page, has_more = paginate(found, params, "refund")
        expand = list_expand(read_expand(params))
        data = [self._render_refund(refund["id"], expand) for refund in page]
        return objects.list_object(data, "/v1/refunds", has_more=has_more)

    def _retrieve_event(self, call: _Call) -> dict[str, Any]:
        reject_unknown(call.params, {"expand"})
        check_expand(read_expand(call.params))
        for event in self.events:
            if event["id"] == call.path_args[0]:
                return copy.deepcopy(event)
        raise resource_missing("event", call.path_args[0], "id")

    def _list_events(self, call: _Call) -> dict[str, Any]:
        params = call.params
        reject_unknown(
            params,
            {
                "created",
                "delivery_success",
                "ending_before",
                "expand",
                "limit",
                "starting_after",
                "type",
                "types",
            },
        )
        events = list(reversed(self.events))
        if "type" in params:
            pattern = read_string(params["type"], "type")
            events = [event for event in events if _type_matches(pattern, event["type"])]
        if "types" in params:
            types = read_array(params["types"], "types")
            wanted = {read_string(item, child("types", i)) for i, item in enumerate(types)}
            events = [event for event in events if event["type"] in wanted]
        events = created_filter(events, params)
        page, has_more = paginate(events, params, "event")
        return objects.list_object(copy.deepcopy(page), "/v1/events", has_more=has_more)

    def _list_webhook_endpoints(self, call: _Call) -> dict[str, Any]:
        endpoints = list(reversed(self.webhook_endpoints.values()))  # newest first
        page, has_more = paginate(endpoints, call.params, "webhook_endpoint")
        return objects.list_object(copy.deepcopy(page), "/v1/webhook_endpoints", has_more=has_more)

    # -- helpers -----------------------------------------------------------------------

    def _now(self) -> int:
        return int(self.clock())

    def _version_of(self, intent: dict[str, Any]) -> str:
        """The API version of the request that made the session behind ``intent``."""
        for session_id, session in self.sessions.items():
            if session["payment_intent"] == intent["id"]:
                return self._state[session_id].api_version
        return DEFAULT_API_VERSION

    def _session_or_404(self, session_id: str) -> dict[str, Any]:
        session = self.sessions.get(session_id)
        if session is None:
            raise resource_missing("checkout.session", session_id, "session")
        return session

    def _render_session(self, session: dict[str, Any], expand: list[str]) -> dict[str, Any]:
        _check_session_expand(expand)
        rendered = copy.deepcopy(session)
        for path in expand:
            if path == "line_items":
                items = self._state[session["id"]].line_items
                page = copy.deepcopy(items[:10])
                url = f"/v1/checkout/sessions/{session['id']}/line_items"
                rendered["line_items"] = objects.list_object(page, url, has_more=len(items) > 10)
            elif path == "payment_intent" and session["payment_intent"] is not None:
                intent = self.payment_intents[session["payment_intent"]]
                rendered["payment_intent"] = copy.deepcopy(intent)
        return rendered


def _check_session_expand(paths: list[str]) -> None:
    for path in paths:
        if path not in ("line_items", "payment_intent", *_SESSION_EXPANDABLE_NULLS):
            raise invalid_request(f"This property cannot be expanded ({path}).")


def _mark_expired(session: dict[str, Any]) -> None:
    session.update(status="expired", url=None)


def _idempotency_error(message: str) -> StripeError:
    return StripeError(message, type="idempotency_error")


def _path(endpoint: str) -> str:
    return endpoint.partition(" ")[2]


def _decode_params(request: web.Request, raw: bytes) -> dict[str, Any]:
    """Query-string parameters, then (for a POST) the form body, as one nested dict."""
    pairs = list(request.query.items())
    if raw:
        content_type = request.headers.get("Content-Type", "")
        if not content_type.startswith("application/x-www-form-urlencoded"):
            raise invalid_request(
                f"Invalid request: unsupported Content-Type {content_type}. If error persists "
                "and you need assistance, please contact support@stripe.com."
            )
        try:
            pairs += parse_form(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise invalid_request("Invalid request: the body is not valid UTF-8.") from None
    try:
        return decode_form(pairs)
    except FormError as error:
        raise invalid_request(error.message, error.param) from None


def _type_matches(pattern: str, type: str) -> bool:
    """``checkout.session.*`` matches every checkout.session event, as on Stripe."""
    if pattern.endswith(".*"):
        return type.startswith(pattern[:-1])
    return type == pattern


def _pretty_json(payload: dict[str, Any]) -> bytes:
    # The API answers with indented JSON; webhooks send the event compactly.
    return json.dumps(payload, indent=2, ensure_ascii=False).encode("utf-8")
