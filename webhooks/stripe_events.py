"""Stripe webhook events: checking the signature and reading the verified body."""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import Any

import orjson

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
    webhook path, and orjson parses the bytes in a quarter of the time the standard json
    module takes.
    """
    if not signature_header:
        raise InvalidEvent("missing Stripe-Signature header")
    if not signature_header.isascii():
        # Stripe's signatures are hex; hmac.compare_digest raises TypeError on other text.
        raise InvalidEvent("Stripe-Signature header is not ASCII")
    _check_signature(body, signature_header, secret.encode("utf-8"))
    try:
        payload = orjson.loads(body)  # which refuses a body that is not UTF-8
    except orjson.JSONDecodeError:
        if not _is_utf8(body):
            raise InvalidEvent("body is not UTF-8") from None
        raise InvalidEvent("body is not JSON") from None
    return _event_from(payload)


def _check_signature(body: bytes, header: str, secret: bytes) -> None:
    """Stripe's scheme, as stripe.WebhookSignature.verify_header checks it: one of the
    header's `v1` entries is the hex HMAC-SHA256 of `<t>.<body>` under the endpoint's secret,
    and `t` is at most five minutes old.

    Checked here over the raw bytes: verify_header decodes the body, encodes it back, copies
    it into the signed text and builds an HMAC object, a tenth of a webhook event's CPU
    besides the hash itself.
    """
    timestamp: int | None = None
    signatures = []
    try:
        for item in header.split(","):
            key, _, value = item.partition("=")
            if key == "t" and timestamp is None:
                timestamp = int(value)
            elif key == "v1":
                signatures.append(value)
    except ValueError:
        timestamp = None
    if timestamp is None:
        raise SignatureMismatch(
            "signature verification failed: Unable to extract timestamp and signatures from header"
        )
    if not signatures:
        raise SignatureMismatch("signature verification failed: no v1 signature in the header")
    expected = hmac.digest(secret, b"%d.%b" % (timestamp, body), "sha256").hex()
    if not any(hmac.compare_digest(expected, signature) for signature in signatures):
        raise SignatureMismatch(
            "signature verification failed: no signature matches this body and the endpoint's"
            " secret"
        )
    if timestamp < time.time() - SIGNATURE_TOLERANCE_SECONDS:
        raise SignatureMismatch(
            "signature verification failed: timestamp older than five minutes (a stale or"
            " replayed delivery)"
        )


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


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
