"""POST /stripe/webhook with every kind of bad input: the answer, and nothing stored changed."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

import aiohttp
import pytest

from bot.service import Service
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from tests.helpers import (
    link_stored,
    paid_event,
    raw_post,
    rows,
    session_behind,
    snapshot,
    tap_product,
    until,
)


@pytest.fixture
async def open_session(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> dict[str, Any]:
    """A pending order with its Checkout Session, as a buyer's tap leaves it."""
    ada = telegram.user(4242, "Ada")
    pay_message = await tap_product(telegram, ada, "The Forest Hiker")
    await until(link_stored(shop.settings.database_path))
    return session_behind(stripe_api, pay_message)


async def post_raw(shop: Service, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    url = f"{shop.http_url}/stripe/webhook"
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as r:
        return r.status, await r.text()


def compact(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


async def test_no_signature_header_is_refused(
    shop: Service, stripe_api: StripeEmulator, open_session: dict[str, Any]
) -> None:
    before = snapshot(shop.settings.database_path)
    status, text = await post_raw(
        shop, compact(paid_event(stripe_api, open_session)), {"Content-Type": "application/json"}
    )
    assert (status, "missing Stripe-Signature" in text) == (400, True)
    assert snapshot(shop.settings.database_path) == before


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("wrong secret", "no signature matches"),
        ("other body", "no signature matches"),
        ("stale timestamp", "older than five minutes"),
        ("garbled header", "Unable to extract timestamp"),
        ("other scheme", "no v1 signature"),
    ],
)
async def test_a_bad_signature_is_refused(
    shop: Service, stripe_api: StripeEmulator, open_session: dict[str, Any], how: str, reason: str
) -> None:
    event = paid_event(stripe_api, open_session)
    body = compact(event)
    before = snapshot(shop.settings.database_path)
    if how == "wrong secret":
        delivery = await stripe_api.deliver(event, secret="whsec_not_the_endpoint_secret")
    elif how == "other body":
        other = compact(paid_event(stripe_api, open_session, amount_total=1))
        delivery = await stripe_api.deliver(
            event, body=body, signature_header=stripe_api.sign(other)
        )
    elif how == "stale timestamp":
        delivery = await stripe_api.deliver(event, timestamp=int(time.time()) - 301)
    elif how == "other scheme":
        # The right digest, under a scheme other than the one Stripe signs with.
        header = stripe_api.sign(body).replace(",v1=", ",v0=")
        delivery = await stripe_api.deliver(event, body=body, signature_header=header)
    else:
        delivery = await stripe_api.deliver(event, signature_header="t=soon,v1=")
    assert delivery.status == 400
    assert reason in delivery.response_body
    assert snapshot(shop.settings.database_path) == before


async def test_a_delivery_signed_with_a_rolled_secret_too_is_accepted(
    shop: Service, stripe_api: StripeEmulator, open_session: dict[str, Any]
) -> None:
    """While an endpoint's secret is rolled, Stripe signs with the old one and the new one:
    any v1 entry that matches will do, wherever it is in the header."""
    event = paid_event(stripe_api, open_session)
    body = compact(event)
    stamp = int(time.time())
    old = stripe_api.sign(body, timestamp=stamp, secret="whsec_rolled_over_secret")
    new = stripe_api.sign(body, timestamp=stamp)
    header = f"{old},{new.split(',')[1]}"  # t=…,v1=<old>,v1=<new>
    delivery = await stripe_api.deliver(event, body=body, signature_header=header)
    assert delivery.status == 200
    (order,) = rows(shop.settings.database_path, "SELECT status FROM orders")
    assert order["status"] == "paid"


async def test_a_replayed_old_delivery_is_refused(
    shop: Service,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    open_session: dict[str, Any],
) -> None:
    """Someone who captured a genuine delivery cannot replay it once the tolerance has passed."""
    event = paid_event(stripe_api, open_session)
    body = compact(event)
    captured = stripe_api.sign(body, timestamp=int(time.time()) - 3600)
    before = snapshot(shop.settings.database_path)
    delivery = await stripe_api.deliver(event, body=body, signature_header=captured)
    assert delivery.status == 400
    assert snapshot(shop.settings.database_path) == before


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b'{"hello": "world"}', "not a Stripe event"),
        (b"[1, 2, 3]", "not a Stripe event"),
        (
            b'{"object": "event", "id": "evt_1", "type": "checkout.session.completed"}',
            "data.object",
        ),
    ],
)
async def test_a_signed_body_that_is_not_an_event_is_refused(
    shop: Service,
    stripe_api: StripeEmulator,
    open_session: dict[str, Any],
    body: bytes,
    reason: str,
) -> None:
    before = snapshot(shop.settings.database_path)
    status, text = await post_raw(
        shop, body, {"Stripe-Signature": stripe_api.sign(body), "Content-Type": "application/json"}
    )
    assert status == 400
    assert reason in text
    assert snapshot(shop.settings.database_path) == before


async def test_a_body_over_one_mebibyte_is_refused(
    shop: Service, stripe_api: StripeEmulator, open_session: dict[str, Any]
) -> None:
    event = paid_event(stripe_api, open_session, padding="x" * (1024 * 1024))
    before = snapshot(shop.settings.database_path)
    delivery = await stripe_api.deliver(event)
    assert delivery.status == 413
    assert snapshot(shop.settings.database_path) == before


@pytest.mark.parametrize(
    "change",
    [
        {"metadata": {}},  # made by another integration on the same account
        {"metadata": {"order_id": "999999"}},  # names an order that does not exist
        {"metadata": {"order_id": "not-a-number"}},
        {"metadata": {"order_id": "²"}},  # a digit to isdigit(), not to int()
        {"id": "cs_test_someone_elses_session"},  # names our order, but is not its session
    ],
)
async def test_a_session_that_is_not_ours_is_acknowledged_and_ignored(
    shop: Service, stripe_api: StripeEmulator, open_session: dict[str, Any], change: dict[str, Any]
) -> None:
    before = snapshot(shop.settings.database_path)
    delivery = await stripe_api.deliver(paid_event(stripe_api, open_session, **change))
    assert delivery.status == 200
    assert json.loads(delivery.response_body)["result"] == "not_ours"
    assert snapshot(shop.settings.database_path) == before


async def test_an_event_type_we_do_not_use_is_acknowledged_and_ignored(
    shop: Service, stripe_api: StripeEmulator, open_session: dict[str, Any]
) -> None:
    before = snapshot(shop.settings.database_path)
    event = stripe_api.build_event("customer.created", {"id": "cus_1", "object": "customer"})
    delivery = await stripe_api.deliver(event)
    assert delivery.status == 200
    assert json.loads(delivery.response_body)["result"] == "ignored"
    assert snapshot(shop.settings.database_path) == before


async def test_after_all_that_a_genuine_event_still_pays(
    shop: Service, stripe_api: StripeEmulator, open_session: dict[str, Any]
) -> None:
    """The refusals above leave no trace that would block the real payment."""
    await stripe_api.deliver(paid_event(stripe_api, open_session), secret="whsec_wrong")
    delivery = await stripe_api.pay(open_session["id"])
    assert delivery.status == 200
    (order,) = rows(shop.settings.database_path, "SELECT status FROM orders")
    assert order["status"] == "paid"


async def test_a_failing_database_answers_5xx_so_stripe_retries(
    shop: Service, stripe_api: StripeEmulator, open_session: dict[str, Any]
) -> None:
    """When the write cannot be made, Stripe is told to come back; its retry then succeeds."""
    database = shop.settings.database_path
    before = snapshot(database)
    # Break the table the webhook writes first, from outside the process, then mend it.
    with sqlite3.connect(database) as db:
        (schema,) = db.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'stripe_events'"
        ).fetchone()
        db.execute("DROP TABLE stripe_events")
    delivery = await stripe_api.pay(open_session["id"])
    with sqlite3.connect(database) as db:
        db.execute(schema)
    assert delivery.status == 503
    assert snapshot(database) == before

    # Stripe's own retry schedule brings the event back; it is applied once.
    await stripe_api.wait_until_acknowledged([delivery.event["id"]])
    attempts = [d for d in stripe_api.deliveries if d.event["id"] == delivery.event["id"]]
    assert attempts[-1].attempt > 1 and attempts[-1].status == 200
    (order,) = rows(database, "SELECT status FROM orders")
    assert order["status"] == "paid"
    assert len(rows(database, "SELECT * FROM outbox WHERE kind = 'payment_received'")) == 1


@pytest.mark.parametrize("signature", ["v1=éé".encode(), b"v1=\xff\xfe"], ids=["utf-8", "bytes"])
async def test_a_signature_header_that_is_not_ascii_is_refused(
    shop: Service,
    stripe_api: StripeEmulator,
    open_session: dict[str, Any],
    signature: bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = compact(paid_event(stripe_api, open_session))
    header = f"Stripe-Signature: t={int(time.time())},".encode() + signature
    before = snapshot(shop.settings.database_path)
    status, text = await raw_post(shop, "/stripe/webhook", [header], body)
    assert (status, json.loads(text)["error"]) == (400, "Stripe-Signature header is not ASCII")
    assert snapshot(shop.settings.database_path) == before
    assert [r.levelname for r in caplog.records if r.name.startswith("webhooks")] == ["WARNING"]
    assert not any(r.exc_info for r in caplog.records)


@pytest.mark.parametrize("amount", [2**63, 10**30, 1e30, 39700.0, -1], ids=str)
async def test_an_amount_no_order_can_have_is_flagged_not_stored(
    shop: Service, stripe_api: StripeEmulator, open_session: dict[str, Any], amount: object
) -> None:
    """A signed event whose amount is beyond 64 bits, a float or negative: the money was taken
    (the order is paid) but the amount is not one to store; the owner is told, Stripe gets 200
    and does not retry."""
    event = paid_event(stripe_api, open_session, amount_total=amount, amount_subtotal=amount)
    delivery = await stripe_api.deliver(event)
    assert delivery.status == 200
    (order,) = rows(
        shop.settings.database_path,
        "SELECT status, amount_received, typeof(amount_received) AS kind, flag FROM orders",
    )
    assert (order["status"], order["amount_received"], order["kind"]) == ("paid", None, "null")
    assert "for an order of 39700 usd" in order["flag"]
