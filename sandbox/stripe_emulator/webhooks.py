"""Webhook delivery as Stripe does it: signed POSTs, retried with backoff until acknowledged.

Stripe counts a delivery as acknowledged when the endpoint answers 2xx; a
non-2xx answer, a timeout or a connection that cannot be made is a failure,
and the event is sent again later on an exponential schedule: "in live mode,
Stripe attempts to deliver a given event to your webhook endpoint for up to 3
days with an exponential back off; in sandboxes, Stripe retries three times
over a few hours" (docs.stripe.com/webhooks, "Retry behavior"). Stripe does
not publish the individual intervals. Each retry carries the same event id and
body with a fresh ``Stripe-Signature`` timestamp. An endpoint removed during the
retries (here: ``url`` set to ``None``) gets no further attempts.

The emulator keeps Stripe's shape and scales the time: ``retry_delays`` are
the waits, in seconds, before the 2nd, 3rd, … attempt (default
``DEFAULT_RETRY_DELAYS``: five retries, 0.05 s doubling, under 1.6 s in all).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

__all__ = [
    "DEFAULT_RETRY_DELAYS",
    "WEBHOOK_USER_AGENT",
    "Delivery",
    "PendingRetry",
    "WebhookSender",
    "compact_json",
]

WEBHOOK_USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
DEFAULT_RETRY_DELAYS: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4, 0.8)


@dataclass
class Delivery:
    """One webhook POST and what the receiver answered (status 0: no answer at all).

    ``attempt`` counts the POSTs of this event so far, 1 for the first; an
    automatic retry, a ``redeliver`` and a duplicate each count as one more.
    """

    event: dict[str, Any]
    body: bytes
    signature_header: str
    status: int
    response_body: str
    attempt: int = 1

    @property
    def acknowledged(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class PendingRetry:
    """A retry scheduled after a failed delivery and not made yet."""

    event_id: str
    type: str
    attempt: int
    delay: float


class WebhookSender:
    """Signs, POSTs and records events, and retries the ones Stripe would retry."""

    def __init__(
        self,
        secret: str,
        *,
        retry_delays: Sequence[float],
        clock: Callable[[], float],
        on_acknowledged: Callable[[str], None],
    ) -> None:
        self.url: str | None = None
        self.secret = secret
        self.retry_delays = tuple(retry_delays)
        self.timeout = 10.0
        self.deliveries: list[Delivery] = []
        self._clock = clock
        self._on_acknowledged = on_acknowledged
        self._http: aiohttp.ClientSession | None = None
        self._changed = asyncio.Condition()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._notifiers: set[asyncio.Task[None]] = set()
        self._pending: dict[asyncio.Task[Any], PendingRetry] = {}
        self._sent_ids: list[str] = []
        self._attempts: dict[str, int] = {}
        self._acknowledged: set[str] = set()
        self._closing = False

    async def start(self) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))

    async def close(self) -> None:
        # Scheduled retries are dropped: the test is over, like an endpoint deleted.
        self._closing = True
        for task in self._pending:
            task.cancel()
        while self._tasks or self._notifiers:
            await asyncio.gather(*self._tasks, *self._notifiers, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
            self._http = None

    def require_endpoint(self) -> None:
        # Checked before anything changes, so a forgotten webhook_url leaves no trace.
        if self.url is None:
            raise RuntimeError("StripeEmulator.webhook_url is not set")
        if self._http is None:
            raise RuntimeError("StripeEmulator is not started")

    # -- one POST ------------------------------------------------------------------

    def sign(self, body: bytes, *, timestamp: int | None = None, secret: str | None = None) -> str:
        """The ``Stripe-Signature`` header: ``t=<ts>,v1=<HMAC-SHA256 of "<ts>.<body>">``."""
        stamp = int(self._clock()) if timestamp is None else timestamp
        key = (self.secret if secret is None else secret).encode("utf-8")
        digest = hmac.new(key, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        return f"t={stamp},v1={digest}"

    async def post(
        self,
        event: dict[str, Any],
        *,
        body: bytes | None = None,
        signature_header: str | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> Delivery:
        """POST an event to ``url`` once, signed unless told otherwise, and record it."""
        self.require_endpoint()
        assert self.url is not None and self._http is not None
        event_id = str(event.get("id"))
        self._attempts[event_id] = self._attempts.get(event_id, 0) + 1
        attempt = self._attempts[event_id]
        payload = compact_json(event) if body is None else body
        header = (
            self.sign(payload, timestamp=timestamp, secret=secret)
            if signature_header is None
            else signature_header
        )
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": header,
            "User-Agent": WEBHOOK_USER_AGENT,
            "Accept": "*/*; q=0.5, application/xml",
            "Cache-Control": "no-cache",
        }
        try:
            async with self._http.post(self.url, data=payload, headers=headers) as answer:
                status = answer.status
                text = (await answer.read()).decode("utf-8", "replace")
        except (aiohttp.ClientError, TimeoutError) as error:
            # Refused, reset or too slow: Stripe records no status, only a failure.
            status, text = 0, f"{type(error).__name__}: {error}"
        delivery = Delivery(event, payload, header, status, text, attempt)
        if delivery.acknowledged and event_id not in self._acknowledged:
            self._acknowledged.add(event_id)
            self._on_acknowledged(event_id)
        async with self._changed:
            self.deliveries.append(delivery)
            self._changed.notify_all()
        return delivery

    # -- what Stripe sends on its own: retried -------------------------------------

    async def send(self, event: dict[str, Any], *, retry: bool = True) -> Delivery:
        """Deliver now; on failure, schedule the retries (when ``retry``)."""
        self._sent_ids.append(event["id"])
        delivery = await self.post(event)
        if retry and not delivery.acknowledged:
            self._schedule_retry(event, delivery.attempt)
        return delivery

    def send_later(self, events: Sequence[dict[str, Any]]) -> None:
        """Stripe answers the API call first and sends its events afterwards, in order."""
        if self.url is None:
            return
        self._sent_ids.extend(event["id"] for event in events)

        async def in_order() -> None:
            for event in events:
                delivery = await self.post(event)
                if not delivery.acknowledged:
                    self._schedule_retry(event, delivery.attempt)

        self._track(asyncio.ensure_future(in_order()))

    async def send_all(
        self,
        events: Sequence[dict[str, Any]],
        *,
        concurrency: int,
        duplicate_share: float,
        shuffle: bool,
        seed: int,
    ) -> list[Delivery]:
        """Send a batch at once, some twice, in a shuffled order: what Stripe may do."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if not 0 <= duplicate_share <= 1:
            raise ValueError("duplicate_share must be between 0 and 1")
        self.require_endpoint()
        chooser = random.Random(seed)
        batch = list(events)
        duplicates = chooser.sample(batch, round(len(batch) * duplicate_share))
        batch += duplicates
        if shuffle:
            chooser.shuffle(batch)
        gate = asyncio.Semaphore(concurrency)

        async def one(event: dict[str, Any]) -> Delivery:
            async with gate:
                return await self.send(event)

        return list(await asyncio.gather(*(one(event) for event in batch)))

    def _schedule_retry(self, event: dict[str, Any], failed_attempt: int) -> None:
        if self._closing or failed_attempt > len(self.retry_delays):
            return  # Stripe gives up: the event stays failed.
        delay = self.retry_delays[failed_attempt - 1]

        async def later() -> None:
            await asyncio.sleep(delay)
            task = asyncio.current_task()
            if task is not None:
                self._pending.pop(task, None)  # made now, no longer scheduled
            if self.url is None or event["id"] in self._acknowledged:
                return
            delivery = await self.post(event)
            if not delivery.acknowledged:
                self._schedule_retry(event, delivery.attempt)

        task = asyncio.ensure_future(later())
        self._pending[task] = PendingRetry(event["id"], event["type"], failed_attempt + 1, delay)
        task.add_done_callback(self._retry_done)
        self._track(task)

    def _retry_done(self, task: asyncio.Task[Any]) -> None:
        self._pending.pop(task, None)
        self._notify_soon()

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _: self._notify_soon())

    def _notify_soon(self) -> None:
        async def notify() -> None:
            async with self._changed:
                self._changed.notify_all()

        if self._http is not None:
            notifier = asyncio.ensure_future(notify())
            self._notifiers.add(notifier)
            notifier.add_done_callback(self._notifiers.discard)

    # -- reading what happened -----------------------------------------------------

    def pending_retries(self) -> list[PendingRetry]:
        return sorted(self._pending.values(), key=lambda retry: (retry.event_id, retry.attempt))

    def sent_event_ids(self) -> list[str]:
        return list(dict.fromkeys(self._sent_ids))

    async def wait_until(self, done: Callable[[], bool], timeout: float) -> None:  # noqa: ASYNC109
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(done)

    def find(self, type: str | None, object_id: str | None) -> Delivery | None:
        for delivery in self.deliveries:
            event = delivery.event
            if type is not None and event.get("type") != type:
                continue
            if object_id is not None and event["data"]["object"].get("id") != object_id:
                continue
            return delivery
        return None

    def unacknowledged(self, event_ids: Iterable[str]) -> list[str]:
        return [event_id for event_id in event_ids if event_id not in self._acknowledged]

    def idle(self) -> bool:
        return not self._pending and all(task.done() for task in self._tasks)


def compact_json(payload: dict[str, Any]) -> bytes:
    # The API answers with indented JSON; webhooks send the event compactly.
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
