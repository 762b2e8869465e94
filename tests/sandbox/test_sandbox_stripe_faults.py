"""Injected API failures: rate limiting and outages, answered and recorded as Stripe would."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import stripe

from sandbox.stripe_api import StripeEmulator
from tests.stripe_sandbox import checkout_params, make_client, stripe_http

NOW = float(int(time.time()))


@pytest.fixture
async def emulator() -> AsyncIterator[StripeEmulator]:
    async with StripeEmulator(rate_limit_per_second=3) as emulator:
        # Frozen, so that the test decides which requests share a second.
        emulator.clock = lambda: NOW
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[stripe.AIOHTTPClient]:
    async with stripe_http() as http:
        yield http


@pytest.fixture
def client(emulator: StripeEmulator, http: stripe.AIOHTTPClient) -> Any:
    return make_client(emulator, http, max_network_retries=0)


async def test_requests_over_the_rate_limit_get_stripes_429(
    emulator: StripeEmulator, client: Any
) -> None:
    for _ in range(3):
        await client.v1.events.list_async()

    with pytest.raises(stripe.RateLimitError) as caught:
        await client.v1.checkout.sessions.create_async(checkout_params())

    assert caught.value.http_status == 429
    assert caught.value.headers is not None
    assert caught.value.headers["Stripe-Rate-Limited-Reason"] == "global-rate"
    assert "Retry-After" not in caught.value.headers
    refused = emulator.requests[-1]
    assert refused.status == 429
    assert (refused.response["error"]["type"], refused.response["error"]["code"]) == (
        "invalid_request_error",
        "rate_limit",
    )
    assert refused.response["error"]["message"].startswith("Too many requests hit the API")
    assert emulator.sessions == {}, "nothing is created"

    emulator.clock = lambda: NOW + 1
    session = await client.v1.checkout.sessions.create_async(checkout_params())
    assert list(emulator.sessions) == [session.id]

    emulator.rate_limit_per_second = None
    for _ in range(5):
        await client.v1.events.list_async()


@pytest.mark.parametrize("retries", [0, 2])
async def test_an_outage_answers_500_api_error(
    emulator: StripeEmulator, http: stripe.AIOHTTPClient, retries: int
) -> None:
    emulator.rate_limit_per_second = None
    client = make_client(emulator, http, max_network_retries=retries)

    async with emulator.outage():
        with pytest.raises(stripe.APIError) as caught:
            await client.v1.checkout.sessions.create_async(
                checkout_params(), options={"idempotency_key": "order-1"}
            )

    assert caught.value.http_status == 500
    assert [r.status for r in emulator.requests] == [500] * (retries + 1)
    assert emulator.requests[0].response["error"]["type"] == "api_error"
    assert emulator.sessions == {}
    session = await client.v1.checkout.sessions.create_async(
        checkout_params(), options={"idempotency_key": "order-1"}
    )
    assert list(emulator.sessions) == [session.id], "the key was left free"


async def test_an_unreachable_api_drops_the_connection(
    emulator: StripeEmulator, client: Any
) -> None:
    emulator.start_outage("unreachable")

    with pytest.raises(stripe.APIConnectionError):
        await client.v1.checkout.sessions.create_async(checkout_params())

    assert [(r.status, r.path) for r in emulator.requests] == [(0, "/v1/checkout/sessions")]
    assert emulator.sessions == {}
    emulator.end_outage()
    assert (await client.v1.checkout.sessions.create_async(checkout_params())).status == "open"
    with pytest.raises(ValueError):
        emulator.start_outage("meteor")


async def test_held_requests_wait_unanswered_until_released(
    emulator: StripeEmulator, http: stripe.AIOHTTPClient
) -> None:
    client = make_client(emulator, http)
    emulator.hold_requests()
    listing = asyncio.ensure_future(client.v1.checkout.sessions.list_async({"limit": 1}))
    await emulator.wait_until_held()
    assert not listing.done() and emulator.requests == []
    emulator.release_requests()
    assert (await listing).data == []
    assert [r.path for r in emulator.requests] == ["/v1/checkout/sessions"]


async def test_a_lost_answer_leaves_the_work_done_and_kept_under_its_key(
    emulator: StripeEmulator, http: stripe.AIOHTTPClient
) -> None:
    emulator.rate_limit_per_second = None
    client = make_client(emulator, http, max_network_retries=1)
    params = checkout_params()

    async with emulator.outage("answer_lost"):
        with pytest.raises(stripe.APIConnectionError):
            await client.v1.checkout.sessions.create_async(
                params, options={"idempotency_key": "order-1"}
            )

    assert [(r.status, r.replayed) for r in emulator.requests] == [(0, False), (0, True)]
    (made,) = emulator.sessions
    again = await client.v1.checkout.sessions.create_async(
        params, options={"idempotency_key": "order-1"}
    )
    assert again.id == made and emulator.requests[-1].replayed
    assert list(emulator.sessions) == [made]
