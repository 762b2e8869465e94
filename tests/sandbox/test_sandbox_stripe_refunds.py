"""Charges behind payments, refunds (API and Dashboard), and a session's state read back."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import stripe

from sandbox.stripe_api import StripeEmulator
from sandbox.stripe_emulator.objects import fixture
from tests.stripe_sandbox import (
    ORDER_METADATA,
    Receiver,
    checkout_params,
    make_client,
    stripe_http,
    webhook_receiver,
)


@pytest.fixture
async def emulator() -> AsyncIterator[StripeEmulator]:
    async with StripeEmulator() as emulator:
        yield emulator


@pytest.fixture
async def client(emulator: StripeEmulator) -> AsyncIterator[Any]:
    async with stripe_http() as http:
        yield make_client(emulator, http, max_network_retries=0)


@pytest.fixture
async def receiver(emulator: StripeEmulator) -> AsyncIterator[Receiver]:
    async with webhook_receiver(emulator) as receiver:
        yield receiver


async def paid_intent(emulator: StripeEmulator, client: Any) -> dict[str, Any]:
    """A session paid by card; its PaymentIntent as the emulator keeps it."""
    session = await client.v1.checkout.sessions.create_async(checkout_params())
    await emulator.pay(session.id)
    return emulator.payment_intents[emulator.sessions[session.id]["payment_intent"]]


def refund_events(emulator: StripeEmulator) -> list[dict[str, Any]]:
    return [event for event in emulator.events if event["type"].startswith(("charge.", "refund."))]


# -- charges -------------------------------------------------------------------------------


async def test_a_card_payment_has_a_charge_behind_its_payment_intent(
    emulator: StripeEmulator, client: Any, receiver: Receiver
) -> None:
    session = await client.v1.checkout.sessions.create_async(checkout_params())
    await emulator.pay(session.id)

    intent = await client.v1.payment_intents.retrieve_async(
        emulator.sessions[session.id]["payment_intent"]
    )
    charge = await client.v1.charges.retrieve_async(intent.latest_charge)

    assert charge.id.startswith("ch_") and charge.object == "charge"
    assert charge.payment_intent == intent.id
    assert (charge.amount, charge.currency) == (intent.amount, intent.currency)
    assert charge.amount == emulator.sessions[session.id]["amount_total"]
    assert (charge.amount_captured, charge.amount_refunded) == (charge.amount, 0)
    assert (charge.status, charge.paid, charge.captured, charge.refunded) == (
        "succeeded",
        True,
        True,
        False,
    )
    assert charge.metadata.to_dict() == ORDER_METADATA, "copied from payment_intent_data"
    assert set(fixture("charge")) - {"refunds"} <= set(charge.to_dict())
    assert "refunds" not in charge, "only with expand[]=refunds since 2022-11-15"

    expanded = await client.v1.charges.retrieve_async(charge.id, {"expand": ["refunds"]})
    assert expanded.refunds.data == []
    with_charge = await client.v1.payment_intents.retrieve_async(
        intent.id, {"expand": ["latest_charge"]}
    )
    assert with_charge.latest_charge.id == charge.id

    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.charges.retrieve_async("ch_missing")
    assert (caught.value.http_status, caught.value.code) == (404, "resource_missing")


async def test_a_delayed_payment_has_a_pending_charge_until_it_settles(
    emulator: StripeEmulator, client: Any, receiver: Receiver
) -> None:
    settles = await client.v1.checkout.sessions.create_async(checkout_params())
    fails = await client.v1.checkout.sessions.create_async(checkout_params())
    await emulator.complete_unpaid(settles.id)
    await emulator.complete_unpaid(fails.id)

    def charge_of(session_id: str) -> dict[str, Any]:
        intent = emulator.payment_intents[emulator.sessions[session_id]["payment_intent"]]
        return emulator.charges[intent["latest_charge"]]

    pending = charge_of(settles.id)
    assert pending["id"].startswith("py_")
    assert (pending["status"], pending["amount_captured"], pending["paid"]) == ("pending", 0, False)

    await emulator.async_payment_succeeded(settles.id)
    await emulator.async_payment_failed(fails.id)

    settled = await client.v1.charges.retrieve_async(pending["id"])
    assert (settled.status, settled.amount_captured) == ("succeeded", settled.amount)
    assert charge_of(fails.id)["status"] == "failed"
    with pytest.raises(ValueError):
        await emulator.async_payment_succeeded(fails.id)


# -- refunds through the API -------------------------------------------------------------------


async def test_a_partial_then_full_refund_updates_the_charge_and_sends_events(
    emulator: StripeEmulator, client: Any, receiver: Receiver
) -> None:
    intent = await paid_intent(emulator, client)
    charge_id = intent["latest_charge"]
    part = intent["amount"] // 4

    first = await client.v1.refunds.create_async(
        {
            "payment_intent": intent["id"],
            "amount": part,
            "reason": "requested_by_customer",
            "metadata": {"order_id": "7"},
        },
        options={"idempotency_key": "refund-7-1"},
    )

    assert first.id.startswith("re_") and first.object == "refund"
    assert (first.status, first.amount, first.currency) == ("succeeded", part, intent["currency"])
    assert (first.charge, first.payment_intent) == (charge_id, intent["id"])
    assert (first.reason, first.metadata.to_dict()) == ("requested_by_customer", {"order_id": "7"})
    assert set(fixture("refund")) <= set(first.to_dict())
    charge = await client.v1.charges.retrieve_async(charge_id)
    assert (charge.amount_refunded, charge.refunded) == (part, False)

    refunded = await emulator.wait_for_delivery("charge.refunded", object_id=charge_id)
    created = await emulator.wait_for_delivery("refund.created", object_id=first.id)
    assert emulator.deliveries.index(refunded) < emulator.deliveries.index(created)
    assert refunded.event["data"]["object"]["amount_refunded"] == part
    assert created.event["data"]["object"]["amount"] == part
    assert refunded.event["request"] == {
        "id": emulator.requests[-2].request_id,
        "idempotency_key": "refund-7-1",
    }

    rest = await client.v1.refunds.create_async({"charge": charge_id})

    assert rest.amount == intent["amount"] - part
    charge = await client.v1.charges.retrieve_async(charge_id, {"expand": ["refunds"]})
    assert (charge.amount_refunded, charge.refunded) == (intent["amount"], True)
    assert [refund.id for refund in charge.refunds.data] == [rest.id, first.id]
    await emulator.wait_until_acknowledged()
    last = [d.event for d in emulator.deliveries if d.event["type"] == "charge.refunded"][-1]
    assert last["data"]["object"]["amount_refunded"] == intent["amount"], "cumulative"

    listed = await client.v1.refunds.list_async({"payment_intent": intent["id"]})
    assert [refund.id for refund in listed.data] == [rest.id, first.id]
    assert listed.url == "/v1/refunds" and not listed.has_more
    page = await client.v1.refunds.list_async({"payment_intent": intent["id"], "limit": 1})
    assert [refund.id for refund in page.data] == [rest.id] and page.has_more
    assert (await client.v1.refunds.retrieve_async(first.id)).amount == part
    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.refunds.retrieve_async("re_missing")
    assert caught.value.code == "resource_missing"


@pytest.mark.parametrize(
    ("params", "status", "param", "message"),
    [
        ({"payment_intent": "pi_missing"}, 404, "payment_intent", "No such payment_intent"),
        ({"charge": "ch_missing"}, 404, "charge", "No such charge: 'ch_missing'"),
        ({"amount": 0}, 400, "amount", "greater than or equal to 1"),
        ({"amount": -5}, 400, "amount", "greater than or equal to 1"),
        ({"amount": "12.5"}, 400, "amount", "Invalid integer: 12.5"),
        ({"reason": "changed_my_mind"}, 400, "reason", "Invalid reason: must be one of"),
        ({"colour": "red"}, 400, "colour", "Received unknown parameter: colour"),
        ({"metadata": {"k" * 41: "v"}}, 400, "metadata", "Metadata keys can have up to 40"),
        ({"charge": "{charge}"}, 400, "payment_intent", "only specify one of these parameters"),
    ],
)
async def test_invalid_refunds_are_refused_and_change_nothing(
    emulator: StripeEmulator,
    client: Any,
    receiver: Receiver,
    params: dict[str, Any],
    status: int,
    param: str,
    message: str,
) -> None:
    intent = await paid_intent(emulator, client)
    request = {"payment_intent": intent["id"], **params}
    if request.get("charge") == "{charge}":
        request["charge"] = intent["latest_charge"]
    if "pi_missing" in params.values() or "ch_missing" in params.values():
        request = dict(params)

    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.refunds.create_async(request)

    assert (caught.value.http_status, caught.value.param) == (status, param)
    assert message in (caught.value.user_message or "")
    assert emulator.refunds == {}
    assert emulator.charges[intent["latest_charge"]]["amount_refunded"] == 0
    assert refund_events(emulator) == []


async def test_a_refund_names_what_is_left_when_it_asks_for_more(
    emulator: StripeEmulator, client: Any, receiver: Receiver
) -> None:
    intent = await paid_intent(emulator, client)
    total = intent["amount"]
    await client.v1.refunds.create_async({"payment_intent": intent["id"], "amount": 100})

    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.refunds.create_async({"payment_intent": intent["id"], "amount": total})

    left = total - 100
    assert caught.value.user_message == (
        f"Refund amount (${total / 100:.2f}) is greater than unrefunded amount on charge "
        f"(${left / 100:.2f})"
    )
    assert (caught.value.param, caught.value.code) == ("amount", None)
    assert emulator.charges[intent["latest_charge"]]["amount_refunded"] == 100
    assert len(emulator.refunds) == 1


async def test_a_refunded_charge_cannot_be_refunded_again(
    emulator: StripeEmulator, client: Any, receiver: Receiver
) -> None:
    intent = await paid_intent(emulator, client)
    await client.v1.refunds.create_async({"payment_intent": intent["id"]})
    events_before = list(emulator.events)

    for params in ({"payment_intent": intent["id"]}, {"charge": intent["latest_charge"]}):
        with pytest.raises(stripe.InvalidRequestError) as caught:
            await client.v1.refunds.create_async(params)
        assert caught.value.code == "charge_already_refunded"
        assert caught.value.user_message == (
            f"Charge {intent['latest_charge']} has already been refunded."
        )
    assert len(emulator.refunds) == 1
    assert emulator.events == events_before


async def test_a_payment_that_has_not_succeeded_cannot_be_refunded(
    emulator: StripeEmulator, client: Any, receiver: Receiver
) -> None:
    session = await client.v1.checkout.sessions.create_async(checkout_params())
    await emulator.complete_unpaid(session.id)
    intent_id = emulator.sessions[session.id]["payment_intent"]

    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.refunds.create_async({"payment_intent": intent_id})

    assert caught.value.user_message == (
        f"This PaymentIntent ({intent_id}) does not have a successful charge to refund."
    )
    assert emulator.refunds == {}

    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.refunds.create_async({})
    assert caught.value.user_message == (
        "One of the following params should be provided for this request: payment_intent or charge."
    )


async def test_refund_idempotency_keys_are_as_strict_as_for_sessions(
    emulator: StripeEmulator, client: Any, receiver: Receiver
) -> None:
    intent = await paid_intent(emulator, client)
    params = {"payment_intent": intent["id"], "amount": 500}

    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.refunds.create_async(
            {**params, "reason": "bored"}, options={"idempotency_key": "refund-1"}
        )
    first = await client.v1.refunds.create_async(params, options={"idempotency_key": "refund-1"})
    again = await client.v1.refunds.create_async(params, options={"idempotency_key": "refund-1"})
    with pytest.raises(stripe.IdempotencyError):
        await client.v1.refunds.create_async(
            {**params, "amount": 600}, options={"idempotency_key": "refund-1"}
        )

    assert again.id == first.id and emulator.requests[-2].replayed
    assert list(emulator.refunds) == [first.id]
    assert emulator.charges[intent["latest_charge"]]["amount_refunded"] == 500


async def test_a_refund_key_is_forgotten_24_hours_after_its_first_use(
    emulator: StripeEmulator, client: Any, receiver: Receiver
) -> None:
    """Stripe prunes keys at least 24 hours old: the same request then makes a second refund."""
    intent = await paid_intent(emulator, client)
    params = {"payment_intent": intent["id"], "amount": 500}
    start = float(int(emulator.clock()))
    emulator.clock = lambda: start
    first = await client.v1.refunds.create_async(params, options={"idempotency_key": "refund-1"})

    emulator.clock = lambda: start + 24 * 3600 - 1
    again = await client.v1.refunds.create_async(params, options={"idempotency_key": "refund-1"})
    assert again.id == first.id and emulator.requests[-1].replayed

    emulator.clock = lambda: start + 24 * 3600
    later = await client.v1.refunds.create_async(params, options={"idempotency_key": "refund-1"})
    assert later.id != first.id and not emulator.requests[-1].replayed
    assert list(emulator.refunds) == [first.id, later.id]
    assert emulator.charges[intent["latest_charge"]]["amount_refunded"] == 1000
    # Kept again from its new first use: a repeat now is answered with the second refund.
    repeat = await client.v1.refunds.create_async(params, options={"idempotency_key": "refund-1"})
    assert repeat.id == later.id


# -- refunds from the Dashboard --------------------------------------------------------------


async def test_a_dashboard_refund_sends_the_same_events_without_an_api_request(
    emulator: StripeEmulator, client: Any, receiver: Receiver
) -> None:
    intent = await paid_intent(emulator, client)
    requests_before = len(emulator.requests)

    deliveries = await emulator.refund(intent["id"], 300)

    assert [d.event["type"] for d in deliveries] == ["charge.refunded", "refund.created"]
    assert all(d.status == 200 for d in deliveries)
    charge, refund = (d.event["data"]["object"] for d in deliveries)
    assert (charge["amount_refunded"], charge["refunded"]) == (300, False)
    assert (refund["amount"], refund["payment_intent"]) == (300, intent["id"])
    assert deliveries[0].event["request"] == {"id": None, "idempotency_key": None}
    assert len(emulator.requests) == requests_before
    bodies = [json.loads(body)["id"] for body, _ in receiver.received[-2:]]
    assert bodies == [d.event["id"] for d in deliveries]

    rest = await emulator.refund(intent["id"])
    assert rest[1].event["data"]["object"]["amount"] == intent["amount"] - 300
    with pytest.raises(ValueError, match="has already been refunded"):
        await emulator.refund(intent["id"])
    with pytest.raises(ValueError, match="no payment intent"):
        await emulator.refund("pi_missing")


async def test_a_dashboard_refund_of_too_much_is_refused(
    emulator: StripeEmulator, client: Any, receiver: Receiver
) -> None:
    intent = await paid_intent(emulator, client)

    with pytest.raises(ValueError, match="greater than unrefunded amount"):
        await emulator.refund(intent["id"], intent["amount"] + 1)

    assert emulator.refunds == {} and refund_events(emulator) == []


async def test_a_refund_the_bank_sends_back_fails_and_lowers_the_charges_refunded_total(
    emulator: StripeEmulator, client: Any, receiver: Receiver
) -> None:
    intent = await paid_intent(emulator, client)
    (_, created) = await emulator.refund(intent["id"], 300)
    refund_id = created.event["data"]["object"]["id"]

    deliveries = await emulator.fail_refund(refund_id, "lost_or_stolen_card")

    assert [d.event["type"] for d in deliveries] == ["charge.refund.updated", "refund.failed"]
    refund = deliveries[1].event["data"]["object"]
    assert (refund["status"], refund["failure_reason"]) == ("failed", "lost_or_stolen_card")
    assert refund["failure_balance_transaction"].startswith("txn_")
    charge = emulator.charges[refund["charge"]]
    assert (charge["amount_refunded"], charge["refunded"]) == (0, False)
    with pytest.raises(ValueError, match="no succeeded refund"):
        await emulator.fail_refund(refund_id)
    with pytest.raises(ValueError, match="failure_reason must be one of"):
        await emulator.fail_refund(
            (await emulator.refund(intent["id"]))[1].event["data"]["object"]["id"], "bad"
        )


# -- a session's state read back --------------------------------------------------------------


async def test_retrieve_shows_the_current_state_and_expire_refuses_a_paid_session(
    emulator: StripeEmulator, client: Any, receiver: Receiver
) -> None:
    paid = await client.v1.checkout.sessions.create_async(checkout_params())
    await emulator.pay(paid.id)

    now = await client.v1.checkout.sessions.retrieve_async(paid.id)
    assert (now.status, now.payment_status) == ("complete", "paid")
    assert now.payment_intent == emulator.sessions[paid.id]["payment_intent"]
    assert now.payment_intent in emulator.payment_intents

    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.checkout.sessions.expire_async(paid.id)
    assert caught.value.user_message == (
        'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session '
        "has a status of `complete`."
    )
    assert emulator.sessions[paid.id]["status"] == "complete"
    assert [e["type"] for e in emulator.events] == ["checkout.session.completed"]

    unpaid = await client.v1.checkout.sessions.create_async(checkout_params())
    await client.v1.checkout.sessions.expire_async(unpaid.id)
    expired = await emulator.wait_for_delivery("checkout.session.expired", object_id=unpaid.id)
    assert expired.status == 200
    now = await client.v1.checkout.sessions.retrieve_async(unpaid.id)
    assert (now.status, now.payment_status, now.payment_intent) == ("expired", "unpaid", None)
