"""Stripe webhook events: checking the signature and reading the verified body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import stripe

# Stripe's own default: a signature older than five minutes is a replay.
SIGNATURE_TOLERANCE_SECONDS = 300


class InvalidEvent(ValueError):
    """A webhook request that is not a genuine Stripe event; the message says why."""


class SignatureMismatch(InvalidEvent):
    """The signature does not check out against the endpoint's secret (or is too old)."""


@dataclass(frozen=True, slots=True)
class StripeEvent:
    id: str
    type: str
    object: dict[str, Any]
    # When Stripe created the event (Unix seconds), if it said.
    created: int | None = None


def verify_event(body: bytes, signature_header: str | None, secret: str) -> StripeEvent:
    """Check the signature over the raw body, then parse it.

    stripe.Webhook.construct_event would build a StripeObject tree, the costliest step of the
    webhook path; verify_header is the same check without it, and orjson parses the bytes in
    a quarter of the time the standard json module takes.
    """
    if not signature_header:
        raise InvalidEvent("missing Stripe-Signature header")
    if not signature_header.isascii():
        # Stripe's signatures are hex; hmac.compare_digest raises TypeError on other text.
        raise InvalidEvent("Stripe-Signature header is not ASCII")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidEvent("body is not UTF-8") from None
    try:
        stripe.WebhookSignature.verify_header(
            text, signature_header, secret, SIGNATURE_TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError as exc:
        raise SignatureMismatch(f"signature verification failed: {_reason(exc)}") from None
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidEvent("body is not JSON") from None
    return _event_from(payload)


def _event_from(payload: object) -> StripeEvent:
    if not isinstance(payload, dict) or payload.get("object") != "event":
        raise InvalidEvent("body is not a Stripe event")
    event_id, event_type, data = payload.get("id"), payload.get("type"), payload.get("data")
    if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str):
        raise InvalidEvent("event without an id or a type")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise InvalidEvent("event without data.object")
    created = payload.get("created")
    return StripeEvent(
        event_id, event_type, data["object"], created if isinstance(created, int) else None
    )


def _reason(exc: stripe.SignatureVerificationError) -> str:
    message = str(exc.user_message or exc)
    if message.startswith("Timestamp outside the tolerance zone"):
        return "timestamp older than five minutes (a stale or replayed delivery)"
    if message.startswith("No signatures found matching"):
        return "no signature matches this body and the endpoint's secret"
    return message
