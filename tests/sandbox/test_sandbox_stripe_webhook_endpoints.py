"""The emulated account's webhook endpoints, listed as Stripe lists them (what the doctor reads)."""

from __future__ import annotations

import stripe

from sandbox.stripe_api import StripeEmulator
from tests.stripe_sandbox import make_client


async def test_endpoints_are_listed_newest_first_without_their_secret(
    stripe_api: StripeEmulator,
) -> None:
    first = stripe_api.add_webhook_endpoint("https://shop.example/stripe/webhook")
    second = stripe_api.add_webhook_endpoint(
        "https://old.example/hook",
        ["checkout.session.completed"],
        status="disabled",
        api_version="2024-06-20",
    )
    http = stripe.AIOHTTPClient()
    try:
        client = make_client(stripe_api, http)
        listed = await client.v1.webhook_endpoints.list_async({"limit": 1})
        assert [e.id for e in listed.data] == [second["id"]] and listed.has_more
        rest = await client.v1.webhook_endpoints.list_async({"starting_after": second["id"]})
    finally:
        await http.close_async()
    (endpoint,) = rest.data
    assert endpoint.id == first["id"]
    assert (endpoint.url, endpoint.status, endpoint.enabled_events) == (
        "https://shop.example/stripe/webhook",
        "enabled",
        ["*"],
    )
    assert "secret" not in endpoint.to_dict()
    assert listed.data[0].api_version == "2024-06-20"


async def test_listing_endpoints_needs_the_key(stripe_api: StripeEmulator) -> None:
    http = stripe.AIOHTTPClient()
    try:
        client = make_client(stripe_api, http, api_key="sk_test_not_this_account")
        try:
            await client.v1.webhook_endpoints.list_async()
        except stripe.AuthenticationError as exc:
            refused = exc
    finally:
        await http.close_async()
    assert refused.http_status == 401
