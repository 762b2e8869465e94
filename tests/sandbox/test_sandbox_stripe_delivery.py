"""Webhook delivery: Stripe's retries with backoff, duplicates, reordering, redelivery."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import stripe
from aiohttp import web

from sandbox.stripe_api import PendingRetry, StripeEmulator
from tests.stripe_sandbox import checkout_params, make_client, stripe_http

FAST = (0.01, 0.02, 0.04)


@dataclass
class Endpoint:
    """A webhook receiver that answers the statuses queued in ``answers``, then ``status``."""

    url: str = ""
    status: int = 200
    answers: list[int] = field(default_factory=list)
    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)
    # When set, each request waits until this many are in flight at once.
    hold_until: int = 0
    in_flight: int = 0
    most_in_flight: int = 0
    _crowd: asyncio.Condition = field(default_factory=asyncio.Condition)

    def ids(self) -> list[str]:
        return [json.loads(body)["id"] for body, _ in self.received]


async def serve(endpoint: Endpoint) -> web.AppRunner:
    async def webhook(request: web.Request) -> web.Response:
        body = await request.read()
        async with endpoint._crowd:
            endpoint.in_flight += 1
            endpoint.most_in_flight = max(endpoint.most_in_flight, endpoint.in_flight)
            endpoint._crowd.notify_all()
            await endpoint._crowd.wait_for(lambda: endpoint.most_in_flight >= endpoint.hold_until)
            endpoint.in_flight -= 1
        endpoint.received.append((body, dict(request.headers)))
        status = endpoint.answers.pop(0) if endpoint.answers else endpoint.status
        return web.Response(status=status, text="ok" if status < 300 else "try later")

    app = web.Application()
    app.router.add_post("/stripe/webhook", webhook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    endpoint.url = f"http://{host}:{port}/stripe/webhook"
    return runner


@pytest.fixture
async def endpoint() -> AsyncIterator[Endpoint]:
    endpoint = Endpoint()
    runner = await serve(endpoint)
    yield endpoint
    await runner.cleanup()


@pytest.fixture
async def emulator(endpoint: Endpoint) -> AsyncIterator[StripeEmulator]:
    async with StripeEmulator(retry_delays=FAST) as emulator:
        emulator.webhook_url = endpoint.url
        yield emulator


@pytest.fixture
async def client(emulator: StripeEmulator) -> AsyncIterator[Any]:
    async with stripe_http() as http:
        yield make_client(emulator, http, max_network_retries=0)


async def new_session(client: Any) -> str:
    session_id: str = (await client.v1.checkout.sessions.create_async(checkout_params())).id
    return session_id


def timestamp(delivery_header: str) -> int:
    return int(delivery_header.split(",")[0].removeprefix("t="))


# -- retries ----------------------------------------------------------------------------------


async def test_an_unacknowledged_event_is_retried_until_a_2xx(
    emulator: StripeEmulator, client: Any, endpoint: Endpoint
) -> None:
    session_id = await new_session(client)
    endpoint.answers = [500, 503]
    start = 1_800_000_000.0
    emulator.clock = lambda: start

    first = await emulator.pay(session_id)
    emulator.clock = lambda: start + 60
    await emulator.wait_until_acknowledged([first.event["id"]])

    tries = [d for d in emulator.deliveries if d.event["id"] == first.event["id"]]
    assert [(d.attempt, d.status) for d in tries] == [(1, 500), (2, 503), (3, 200)]
    assert {d.body for d in tries} == {first.body}, "same event, same body"
    assert timestamp(tries[-1].signature_header) == start + 60, "a fresh signature"
    for delivery in tries:
        assert stripe.WebhookSignature.verify_header(
            delivery.body.decode(),
            delivery.signature_header,
            emulator.webhook_secret,
            tolerance=None,
        )
    assert endpoint.ids() == [first.event["id"]] * 3
    assert emulator.pending_retries() == [] and emulator.unacknowledged() == []
    event = await client.v1.events.retrieve_async(first.event["id"])
    assert event.pending_webhooks == 0


async def test_stripe_gives_up_after_the_last_retry(
    emulator: StripeEmulator, client: Any, endpoint: Endpoint
) -> None:
    session_id = await new_session(client)
    endpoint.status = 500

    first = await emulator.pay(session_id)
    await emulator.wait_until_idle()

    assert [d.attempt for d in emulator.deliveries] == list(range(1, len(FAST) + 2))
    assert emulator.unacknowledged() == [first.event["id"]]
    with pytest.raises(TimeoutError):
        await emulator.wait_until_acknowledged(timeout=0.05)
    event = await client.v1.events.retrieve_async(first.event["id"])
    assert event.pending_webhooks == 1


async def test_a_scheduled_retry_is_listed_and_dropped_with_the_endpoint(
    endpoint: Endpoint,
) -> None:
    async with StripeEmulator(retry_delays=(3600,)) as emulator:
        emulator.webhook_url = endpoint.url
        async with stripe_http() as http:
            session_id = await new_session(make_client(emulator, http))
        endpoint.status = 503

        first = await emulator.pay(session_id)

        assert emulator.pending_retries() == [
            PendingRetry(first.event["id"], "checkout.session.completed", 2, 3600)
        ]
    assert len(endpoint.received) == 1, "closing drops the retry instead of waiting an hour"


async def test_no_answer_at_all_is_retried_like_an_error(
    emulator: StripeEmulator, client: Any, endpoint: Endpoint
) -> None:
    session_id = await new_session(client)
    emulator.webhook_url = "http://127.0.0.1:9/stripe/webhook"

    first = await emulator.pay(session_id)
    assert first.status == 0
    emulator.webhook_url = endpoint.url
    await emulator.wait_until_acknowledged()

    assert endpoint.ids() == [first.event["id"]]
    assert emulator.deliveries[-1].attempt > 1


async def test_retries_can_be_turned_off(endpoint: Endpoint) -> None:
    async with StripeEmulator(retries=False) as emulator:
        emulator.webhook_url = endpoint.url
        async with stripe_http() as http:
            session_id = await new_session(make_client(emulator, http))
        endpoint.status = 500

        await emulator.pay(session_id)
        await emulator.wait_until_idle()

        assert len(emulator.deliveries) == 1 and emulator.pending_retries() == []


async def test_a_tests_own_delivery_is_never_retried(
    emulator: StripeEmulator, endpoint: Endpoint
) -> None:
    endpoint.status = 400
    forged = emulator.build_event("checkout.session.completed", {"id": "cs_test_x"})

    await emulator.deliver(forged, secret="whsec_someone_else")
    await emulator.wait_until_idle()

    assert len(endpoint.received) == 1


async def test_events_sent_after_an_api_call_are_retried_too(
    emulator: StripeEmulator, client: Any, endpoint: Endpoint
) -> None:
    session_id = await new_session(client)
    endpoint.answers = [500]

    await client.v1.checkout.sessions.expire_async(session_id)
    await emulator.wait_until_acknowledged()

    assert [d.status for d in emulator.deliveries] == [500, 200]


# -- duplicates, reordering, redelivery ----------------------------------------------------------


def batch(emulator: StripeEmulator, size: int) -> list[dict[str, Any]]:
    return [
        emulator.build_event("checkout.session.completed", {"id": f"cs_test_{n}"})
        for n in range(size)
    ]


async def test_deliver_all_duplicates_and_shuffles_reproducibly(
    emulator: StripeEmulator, endpoint: Endpoint
) -> None:
    events = batch(emulator, 10)
    ids = [event["id"] for event in events]

    first = await emulator.deliver_all(events, duplicate_share=0.2, seed=7)
    second = await emulator.deliver_all(events, duplicate_share=0.2, seed=7)
    other = await emulator.deliver_all(events, duplicate_share=0.2, seed=8)

    sent = [d.event["id"] for d in first]
    assert len(sent) == 12 and sorted(set(sent)) == sorted(ids)
    assert sorted(sent.count(event_id) for event_id in ids) == [1] * 8 + [2] * 2
    assert sent != ids, "shuffled"
    assert [d.event["id"] for d in second] == sent, "the same seed, the same batch"
    assert [d.event["id"] for d in other] != sent
    assert all(d.status == 200 for d in first + second + other)

    in_order = await emulator.deliver_all(events, shuffle=False, concurrency=1)
    assert [d.event["id"] for d in in_order] == ids
    assert endpoint.ids()[-10:] == ids


async def test_deliver_all_keeps_concurrency_posts_in_flight(
    emulator: StripeEmulator, endpoint: Endpoint
) -> None:
    endpoint.hold_until = 4

    deliveries = await emulator.deliver_all(batch(emulator, 8), concurrency=4)

    assert endpoint.most_in_flight == 4
    assert len(deliveries) == 8 and all(d.status == 200 for d in deliveries)


async def test_an_acknowledged_event_can_be_sent_again(
    emulator: StripeEmulator, client: Any, endpoint: Endpoint
) -> None:
    session_id = await new_session(client)
    first = await emulator.pay(session_id)

    again = await emulator.redeliver(first.event["id"])

    assert (first.status, again.status) == (200, 200)
    assert (again.body, again.attempt) == (first.body, 2)
    assert endpoint.ids() == [first.event["id"]] * 2
    with pytest.raises(ValueError, match="no event"):
        await emulator.redeliver("evt_missing")
