"""`POST /stripe/webhook`: verify, record, answer fast."""

from __future__ import annotations

import logging

from aiohttp import web

from storage import StorageError
from webhooks.fulfilment import Fulfilment
from webhooks.stripe_events import InvalidEvent, verify_event

log = logging.getLogger(__name__)

# The events that carry a Checkout Session whose payment may now be complete.
FULFILMENT_EVENTS = frozenset(
    {"checkout.session.completed", "checkout.session.async_payment_succeeded"}
)


class StripeWebhook:
    def __init__(self, signing_secret: str, fulfilment: Fulfilment) -> None:
        self._secret = signing_secret
        self._fulfilment = fulfilment

    async def handle(self, request: web.Request) -> web.Response:
        """Answer 400 to what is not a genuine event, 5xx when it could not be stored, else 200."""
        body = await request.read()  # raises 413 past the app's client_max_size
        try:
            event = verify_event(body, request.headers.get("Stripe-Signature"), self._secret)
        except InvalidEvent as exc:
            log.warning("refused a Stripe webhook request: %s", exc)
            return web.json_response({"error": str(exc)}, status=400)

        if event.type not in FULFILMENT_EVENTS:
            return web.json_response({"received": True, "result": "ignored"})
        try:
            outcome = await self._fulfilment.fulfil_checkout(
                event.object, event_id=event.id, event_type=event.type
            )
        except StorageError:
            # Not stored, so not acknowledged: Stripe delivers it again later.
            log.exception("could not record Stripe event %s", event.id)
            return web.json_response({"error": "could not record the event"}, status=503)
        return web.json_response({"received": True, "result": outcome.value})
