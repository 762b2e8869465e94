"""The Stripe emulator's public interface (the implementation is in ``sandbox.stripe_emulator``).

Usage::

    async with StripeEmulator() as emulator:
        client = stripe.StripeClient(
            emulator.api_key,
            base_addresses={"api": emulator.base_url},
            http_client=stripe.AIOHTTPClient(),
        )
        emulator.webhook_url = "http://127.0.0.1:8080/stripe/webhook"
        session = await client.v1.checkout.sessions.create_async({...})
        delivery = await emulator.pay(session.id)          # checkout.session.completed
        await emulator.refund(delivery.event["data"]["object"]["payment_intent"], 500)
        await emulator.wait_until_acknowledged()           # every event got a 2xx

Webhook deliveries that fail are retried on ``retry_delays`` (see
``sandbox.stripe_emulator.webhooks``); ``sandbox/README.md`` lists the rest.
"""

from sandbox.stripe_emulator import (
    DEFAULT_API_VERSION,
    DEFAULT_RETRY_DELAYS,
    ApiRequest,
    Delivery,
    PendingRetry,
    StripeEmulator,
    decode_form,
)

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_RETRY_DELAYS",
    "ApiRequest",
    "Delivery",
    "PendingRetry",
    "StripeEmulator",
    "decode_form",
]
