"""`POST /stripe/webhook`: verify, record, answer fast."""

from __future__ import annotations

import json
import logging
from typing import Protocol

from aiohttp import web

from webhooks.fulfilment import SESSION_EVENTS, Fulfilment, Outcome
from webhooks.refunds import CHARGE_EVENTS, REFUND_EVENTS, RefundLedger
from webhooks.stripe_events import InvalidEvent, SignatureMismatch, StripeEvent, verify_event

log = logging.getLogger(__name__)

# The 200 answers, encoded once: json.dumps on every event was a percent of its CPU.
_RECEIVED = {
    result: json.dumps({"received": True, "result": result}).encode()
    for result in ["ignored", *(outcome.value for outcome in Outcome)]
}


class WebhookWatch(Protocol):
    """Who is told what each webhook request came to (the metrics, the guardian)."""

    def refused(self, *, bad_signature: bool) -> None:
        """A request answered 400: not a genuine event, or one whose signature is wrong."""
        ...

    def answered(self, event_type: str, result: str, created: int | None) -> None:
        """A verified event, and its `result` ("error" when it could not be stored)."""
        ...


class StripeWebhook:
    def __init__(
        self,
        signing_secret: str,
        fulfilment: Fulfilment,
        refunds: RefundLedger,
        watch: WebhookWatch | None = None,
    ) -> None:
        if not signing_secret.strip():
            # An HMAC under an empty key is one anybody can make.
            raise ValueError("the webhook's signing secret is empty")
        self._secret = signing_secret
        self._fulfilment = fulfilment
        self._refunds = refunds
        self._watch = watch

    async def handle(self, request: web.Request) -> web.Response:
        """Answer 400 to what is not a genuine event, 5xx when it could not be stored, else 200."""
        body = await request.read()  # raises 413 past the app's client_max_size
        try:
            event = verify_event(body, request.headers.get("Stripe-Signature"), self._secret)
        except InvalidEvent as exc:
            log.warning("refused a Stripe webhook request: %s", exc)
            if self._watch is not None:
                self._watch.refused(bad_signature=isinstance(exc, SignatureMismatch))
            return web.json_response({"error": str(exc)}, status=400)
        try:
            outcome = await self._apply(event)
        except Exception:
            # Not stored, so not acknowledged: Stripe delivers it again later.
            log.exception(
                "could not apply Stripe event %s (%s)",
                event.id,
                event.type,
                extra={"event_id": event.id},
            )
            self._tell(event, "error")
            return web.json_response({"error": "could not record the event"}, status=503)
        result = "ignored" if outcome is None else outcome.value
        self._tell(event, result)
        if outcome is Outcome.NOT_YET:
            return web.json_response(
                {"error": "this event is for an order not ready for it yet", "result": outcome},
                status=409,
            )
        return web.Response(body=_RECEIVED[result], content_type="application/json")

    def _tell(self, event: StripeEvent, result: str) -> None:
        if self._watch is not None:
            self._watch.answered(event.type, result, event.created)

    async def _apply(self, event: StripeEvent) -> Outcome | None:
        if event.type in SESSION_EVENTS:
            return await self._fulfilment.apply_event(event.id, event.type, event.object)
        if event.type in CHARGE_EVENTS or event.type in REFUND_EVENTS:
            return await self._refunds.apply_event(event.id, event.type, event.object)
        return None
