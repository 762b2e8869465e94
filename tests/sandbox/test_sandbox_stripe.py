"""The Stripe emulator, driven by the real stripe-python async client over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import stripe

# stripe-python's own form encoder: the decoder must read exactly what it writes.
from stripe._encode import _api_encode

from sandbox.stripe_api import DEFAULT_API_VERSION, StripeEmulator, decode_form
from sandbox.stripe_emulator.forms import FormError
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
async def http() -> AsyncIterator[stripe.AIOHTTPClient]:
    async with stripe_http() as http:
        yield http


@pytest.fixture
def client(emulator: StripeEmulator, http: stripe.AIOHTTPClient) -> Any:
    return make_client(emulator, http, max_network_retries=0)


@pytest.fixture
async def receiver(emulator: StripeEmulator) -> AsyncIterator[Receiver]:
    async with webhook_receiver(emulator) as receiver:
        yield receiver


# -- the form decoder ------------------------------------------------------------------


def test_decoder_inverts_stripe_pythons_own_encoding() -> None:
    params = checkout_params(expand=["line_items", "payment_intent"], allow_promotion_codes=True)
    decoded = decode_form((key, str(value)) for key, value in _api_encode(params))

    def as_sent(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: as_sent(item) for key, item in value.items()}
        if isinstance(value, list):
            return [as_sent(item) for item in value]
        return str(value).lower() if isinstance(value, bool) else str(value)

    assert decoded == as_sent(params)
    assert decoded["line_items"][0]["price_data"]["unit_amount"] == "39700"
    assert decoded["expand"] == ["line_items", "payment_intent"]


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([("a[b][c]", "1"), ("a[b][d]", "2")], {"a": {"b": {"c": "1", "d": "2"}}}),
        ([("x[0][y]", "1"), ("x[1][y]", "2")], {"x": [{"y": "1"}, {"y": "2"}]}),
        ([("x[0][0]", "a"), ("x[0][1]", "b")], {"x": [["a", "b"]]}),
        ([("e[]", "a"), ("e[]", "b")], {"e": ["a", "b"]}),
        # Indices that do not run 0..n-1 are not a list.
        ([("x[1]", "a")], {"x": {"1": "a"}}),
        # An empty value is meaningful to Stripe ("unset") and is kept.
        ([("metadata[k]", ""), ("description", "")], {"metadata": {"k": ""}, "description": ""}),
        ([("s", "1"), ("s", "2")], {"s": "2"}),
        ([("a]b", "1")], {"a]b": "1"}),
    ],
)
def test_decoder_nesting(pairs: list[tuple[str, str]], expected: dict[str, Any]) -> None:
    assert decode_form(pairs) == expected


@pytest.mark.parametrize(
    "pairs",
    [
        [("metadata", ""), ("metadata[k]", "v")],
        [("metadata[k]", "v"), ("metadata", "")],
        [("metadata[][k]", "v")],
    ],
)
def test_decoder_refuses_a_name_used_two_ways(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(FormError) as caught:
        decode_form(pairs)
    assert caught.value.param == "metadata"


# -- creating a session ------------------------------------------------------------------


async def test_create_session_answers_a_session_of_stripes_shape(
    emulator: StripeEmulator, client: Any
) -> None:
    params = checkout_params()
    session = await client.v1.checkout.sessions.create_async(
        params, options={"idempotency_key": "order-7-session"}
    )

    assert session.object == "checkout.session"
    assert session.id.startswith("cs_test_") and len(session.id) == len("cs_test_") + 58
    assert session.url.startswith(f"https://checkout.stripe.com/c/pay/{session.id}#")
    assert (session.status, session.payment_status, session.mode) == ("open", "unpaid", "payment")
    assert session.payment_intent is None
    assert (session.amount_subtotal, session.amount_total, session.currency) == (
        79400,
        79400,
        "usd",
    )
    assert session.metadata.to_dict() == ORDER_METADATA
    assert session.client_reference_id == "424242"
    assert session.expires_at == params["expires_at"]
    assert session.locale == "fr"
    assert session.success_url == params["success_url"]
    assert session.livemode is False
    assert session.ui_mode == "hosted_page"

    answered = emulator.requests[-1].response
    assert set(fixture("checkout.session")) <= set(answered), "every field Stripe sends"
    assert emulator.sessions[session.id] == answered
    sent = emulator.requests[-1]
    assert sent.headers["Idempotency-Key"] == "order-7-session"
    assert sent.headers["Stripe-Version"] == DEFAULT_API_VERSION
    assert sent.params["payment_intent_data"]["metadata"] == ORDER_METADATA


async def test_line_items_are_kept_with_their_amounts(client: Any) -> None:
    session = await client.v1.checkout.sessions.create_async(checkout_params())

    items = await client.v1.checkout.sessions.line_items.list_async(session.id)

    assert items.object == "list" and items.has_more is False
    (item,) = items.data
    assert set(fixture("item")) <= set(item.to_dict())
    assert (item.object, item.description, item.quantity) == ("item", "The Forest Hiker", 2)
    assert (item.amount_subtotal, item.amount_total, item.currency) == (79400, 79400, "usd")
    assert (item.price.unit_amount, item.price.type) == (39700, "one_time")

    expanded = await client.v1.checkout.sessions.retrieve_async(
        session.id, {"expand": ["line_items"]}
    )
    assert expanded.line_items.data[0].id == item.id


async def test_expires_at_defaults_to_a_day_after_creation(client: Any) -> None:
    params = checkout_params()
    del params["expires_at"]

    session = await client.v1.checkout.sessions.create_async(params)

    assert session.expires_at == session.created + 24 * 60 * 60


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change to the request: ``_set("line_items.0.quantity", 0)``."""

    def change(params: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = params
        for name in parents:
            node = node[int(name)] if isinstance(node, list) else node[name]
        if value is _DELETE:
            del node[last]
        elif isinstance(value, _FromNow):
            # Read the clock when the test runs, not when pytest collects it: a
            # suite minutes long would otherwise move the limit past the value.
            node[last] = int(time.time()) + value.seconds
        else:
            node[int(last) if isinstance(node, list) else last] = value

    return change


_DELETE = object()


@dataclass(frozen=True)
class _FromNow:
    """A Unix time this many seconds after the moment the change is made."""

    seconds: int


PRICE = "line_items.0.price_data"


def _item(currency: str, unit_amount: int, quantity: int = 1) -> dict[str, Any]:
    """A line item of its own product, as a cart's checkout sends one per line."""
    return {
        "quantity": quantity,
        "price_data": {
            "currency": currency,
            "unit_amount": unit_amount,
            "product_data": {"name": f"Product at {unit_amount}"},
        },
    }


async def test_a_session_takes_up_to_100_line_items_in_one_currency(client: Any) -> None:
    """A cart's checkout: one line item per product, each with its quantity."""
    items = [_item("usd", 100 + n, quantity=1 + n % 3) for n in range(100)]
    items[-1] = _item("usd", 1, quantity=999_999)  # the most a line takes, under the most total

    session = await client.v1.checkout.sessions.create_async(checkout_params(line_items=items))

    listed = await client.v1.checkout.sessions.line_items.list_async(session.id, {"limit": 100})
    assert [item.quantity for item in listed.data] == [item["quantity"] for item in items]
    expected = sum(item["price_data"]["unit_amount"] * item["quantity"] for item in items)
    assert session.amount_total == expected


@pytest.mark.parametrize(
    ("change", "param", "message"),
    [
        (
            _set("expires_at", _FromNow(29 * 60)),
            "expires_at",
            "must be at least 30 minutes from Checkout Session creation",
        ),
        (
            _set("expires_at", _FromNow(24 * 60 * 60 + 120)),
            "expires_at",
            "must be less than 24 hours from Checkout Session creation",
        ),
        (
            _set("metadata.chat_id", "9" * 501),
            "metadata",
            "Metadata values can have up to 500 characters",
        ),
        (
            _set("metadata." + "k" * 41, "v"),
            "metadata",
            "Metadata keys can have up to 40 characters",
        ),
        (
            _set("metadata", {f"key{n}": "v" for n in range(51)}),
            "metadata",
            "Metadata can have up to 50 keys",
        ),
        (
            _set("payment_intent_data.metadata.order_id", "7" * 501),
            "payment_intent_data[metadata]",
            "Metadata values can have up to 500 characters",
        ),
        (_set("foo", "bar"), "foo", "Received unknown parameter: foo"),
        (
            _set(f"{PRICE}.colour", "green"),
            "line_items[0][price_data][colour]",
            "Received unknown parameter: line_items[0][price_data][colour]",
        ),
        (_set("line_items", _DELETE), "line_items", "Missing required param: line_items."),
        (_set("line_items", []), "line_items", "Missing required param: line_items."),
        (
            _set("line_items", [_item("usd", 100 + n) for n in range(101)]),
            "line_items",
            "You can't have more than 100 line items",
        ),
        (
            _set("line_items", [_item("usd", 39700), _item("eur", 1250)]),
            "line_items[1][price_data][currency]",
            "All line items must have the same currency",
        ),
        (
            _set("line_items.0.price_data", _DELETE),
            "line_items[0]",
            "You must specify either `price` or `price_data` for each line item.",
        ),
        (
            _set("line_items.0.price", "price_forest_hiker"),
            "line_items[0][price_data]",
            "You may only specify one of these parameters: price, price_data.",
        ),
        (
            _set("line_items.0.quantity", 1_000_000),
            "line_items[0][quantity]",
            "This value must be less than or equal to 999999.",
        ),
        (
            _set("line_items.0.quantity", _DELETE),
            "line_items[0][quantity]",
            "Missing required param: line_items[0][quantity].",
        ),
        (_set("mode", _DELETE), "mode", "Missing required param: mode."),
        (_set("mode", "donation"), "mode", "Invalid mode: must be one of payment"),
        (
            _set("line_items.0.quantity", 0),
            "line_items[0][quantity]",
            "greater than or equal to 1",
        ),
        (
            _set(f"{PRICE}.unit_amount", 100_000_000),
            "line_items[0][price_data][unit_amount]",
            "less than or equal to 99999999",
        ),
        (
            _set(f"{PRICE}.unit_amount", "39.70"),
            "line_items[0][price_data][unit_amount]",
            "Invalid integer: 39.70",
        ),
        (
            _set(f"{PRICE}.product_data.name", _DELETE),
            "line_items[0][price_data][product_data][name]",
            "Missing required param",
        ),
        (
            _set(
                f"{PRICE}.product_data.images", [f"https://example.com/{n}.jpg" for n in range(9)]
            ),
            "line_items[0][price_data][product_data][images]",
            "at most 8",
        ),
        (
            _set(f"{PRICE}.currency", "USD"),
            "line_items[0][price_data][currency]",
            "Invalid currency: USD",
        ),
        (
            _set(PRICE, {"currency": "kwd", "unit_amount": 1005, "product_data": {"name": "T"}}),
            "line_items[0][price_data][unit_amount]",
            "three-decimal currency",
        ),
        (
            # Quantity 2: a total of 48 cents.
            _set(PRICE, {"currency": "usd", "unit_amount": 24, "product_data": {"name": "T"}}),
            "line_items",
            "must add up to at least $0.50 usd",
        ),
        (
            _set(PRICE, {"currency": "gbp", "unit_amount": 14, "product_data": {"name": "T"}}),
            "line_items",
            "at least £0.30 gbp",
        ),
        (_set("locale", "xx"), "locale", "Invalid locale: must be one of auto"),
        (
            _set("client_reference_id", "1" * 201),
            "client_reference_id",
            "must be at most 200 characters",
        ),
        (
            _set("success_url", "t.me/natours_bot"),
            "success_url",
            "An explicit scheme (such as https) must be provided",
        ),
        (_set("customer_email", "not-an-email"), "customer_email", "Invalid email address"),
        (_set("client_reference_id", ""), "client_reference_id", "You passed an empty string"),
    ],
)
async def test_invalid_requests_are_refused_with_the_param_named(
    emulator: StripeEmulator,
    client: Any,
    change: Callable[[dict[str, Any]], None],
    param: str,
    message: str,
) -> None:
    params = checkout_params()
    change(params)

    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.checkout.sessions.create_async(params)

    assert caught.value.http_status == 400
    assert caught.value.param == param
    assert message in (caught.value.user_message or "")
    assert emulator.sessions == {}, "nothing is created"


# -- idempotency ---------------------------------------------------------------------------


async def test_same_key_and_params_replay_the_first_answer(
    emulator: StripeEmulator, client: Any
) -> None:
    params = checkout_params()
    first = await client.v1.checkout.sessions.create_async(
        params, options={"idempotency_key": "order-7"}
    )
    again = await client.v1.checkout.sessions.create_async(
        params, options={"idempotency_key": "order-7"}
    )

    assert again.id == first.id
    assert len(emulator.sessions) == 1
    assert emulator.requests[-1].replayed
    assert emulator.requests[-1].response == emulator.requests[-2].response


async def test_a_replay_is_the_same_bytes_with_idempotent_replayed(
    emulator: StripeEmulator,
) -> None:
    body = "&".join(f"{key}={value}" for key, value in _api_encode(checkout_params()))
    headers = {
        "Authorization": f"Bearer {emulator.api_key}",
        "Content-Type": "application/x-www-form-urlencoded",
        "Idempotency-Key": "raw-key",
    }
    url = f"{emulator.base_url}/v1/checkout/sessions"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=body, headers=headers) as first:
            first_body, first_headers = await first.read(), first.headers
        async with http.post(url, data=body, headers=headers) as second:
            second_body, second_headers = await second.read(), second.headers

    assert second.status == first.status == 200
    assert second_body == first_body
    assert second_headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first_headers
    assert second_headers["Original-Request"] == first_headers["Request-Id"]
    assert second_headers["Request-Id"] != first_headers["Request-Id"]


async def test_a_key_reused_with_other_params_or_endpoint_is_an_idempotency_error(
    emulator: StripeEmulator, client: Any
) -> None:
    session = await client.v1.checkout.sessions.create_async(
        checkout_params(), options={"idempotency_key": "order-7"}
    )

    with pytest.raises(stripe.IdempotencyError) as caught:
        await client.v1.checkout.sessions.create_async(
            checkout_params(client_reference_id="999"), options={"idempotency_key": "order-7"}
        )
    assert caught.value.http_status == 400
    assert caught.value.user_message == (
        "Keys for idempotent requests can only be used with the same parameters they were first "
        "used with. Try using a key other than 'order-7' if you meant to execute a different "
        "request."
    )

    with pytest.raises(stripe.IdempotencyError) as caught:
        await client.v1.checkout.sessions.expire_async(
            session.id, options={"idempotency_key": "order-7"}
        )
    assert "same endpoint" in (caught.value.user_message or "")
    assert emulator.sessions[session.id]["status"] == "open"
    assert len(emulator.sessions) == 1


async def test_a_refused_request_leaves_its_key_free(emulator: StripeEmulator, client: Any) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.checkout.sessions.create_async(
            checkout_params(locale="xx"), options={"idempotency_key": "order-8"}
        )

    session = await client.v1.checkout.sessions.create_async(
        checkout_params(), options={"idempotency_key": "order-8"}
    )

    assert list(emulator.sessions) == [session.id]


# -- reading and expiring ------------------------------------------------------------------


async def test_retrieve_expire_and_the_errors_around_them(
    emulator: StripeEmulator, client: Any
) -> None:
    created = await client.v1.checkout.sessions.create_async(checkout_params())

    assert (await client.v1.checkout.sessions.retrieve_async(created.id)).id == created.id

    expired = await client.v1.checkout.sessions.expire_async(created.id)
    assert (expired.status, expired.url) == ("expired", None)

    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.checkout.sessions.expire_async(created.id)
    assert caught.value.user_message == (
        'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session '
        "has a status of `expired`."
    )

    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.checkout.sessions.retrieve_async("cs_test_missing")
    assert (caught.value.http_status, caught.value.code, caught.value.param) == (
        404,
        "resource_missing",
        "session",
    )
    assert caught.value.user_message == "No such checkout.session: 'cs_test_missing'"


async def test_list_filters_and_pages(
    emulator: StripeEmulator, client: Any, receiver: Receiver
) -> None:
    ids = [(await client.v1.checkout.sessions.create_async(checkout_params())).id for _ in range(3)]
    await emulator.pay(ids[1])
    intent = emulator.sessions[ids[1]]["payment_intent"]

    by_intent = await client.v1.checkout.sessions.list_async({"payment_intent": intent})
    assert [session.id for session in by_intent.data] == [ids[1]]

    first_page = await client.v1.checkout.sessions.list_async({"status": "open", "limit": 1})
    assert [session.id for session in first_page.data] == [ids[2]]
    assert first_page.has_more
    rest = await client.v1.checkout.sessions.list_async(
        {"status": "open", "starting_after": ids[2]}
    )
    assert [session.id for session in rest.data] == [ids[0]]
    assert not rest.has_more


async def test_a_wrong_api_key_is_refused_without_echoing_it(
    emulator: StripeEmulator, http: stripe.AIOHTTPClient
) -> None:
    wrong = "sk_test_51NotTheRightKeyAtAllXyZ9876"
    client = make_client(emulator, http, api_key=wrong)

    with pytest.raises(stripe.AuthenticationError) as caught:
        await client.v1.checkout.sessions.create_async(checkout_params())

    message = caught.value.user_message or ""
    assert caught.value.http_status == 401
    assert message.startswith("Invalid API Key provided: sk_test_****")
    assert message.endswith("9876")
    assert wrong not in message
    assert emulator.sessions == {}


async def test_unknown_urls_get_stripes_404(emulator: StripeEmulator) -> None:
    headers = {"Authorization": f"Bearer {emulator.api_key}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{emulator.base_url}/v1/checkout/session", headers=headers) as answer,
    ):
        body = await answer.json()

    assert answer.status == 404
    assert answer.headers["Request-Id"].startswith("req_")
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith("Unrecognized request URL (GET: ")


# -- injected failures -----------------------------------------------------------------------


async def test_a_500_is_retried_by_stripe_python_with_the_same_key(
    emulator: StripeEmulator, http: stripe.AIOHTTPClient
) -> None:
    client = make_client(emulator, http, max_network_retries=1)
    emulator.fail_next(1, status=500)

    session = await client.v1.checkout.sessions.create_async(
        checkout_params(), options={"idempotency_key": "order-9"}
    )

    assert [request.status for request in emulator.requests] == [500, 200]
    assert emulator.requests[0].response["error"]["type"] == "api_error"
    keys = {request.headers["Idempotency-Key"] for request in emulator.requests}
    assert keys == {"order-9"}
    assert list(emulator.sessions) == [session.id]


async def test_should_retry_false_stops_stripe_python_retrying(
    emulator: StripeEmulator, http: stripe.AIOHTTPClient
) -> None:
    client = make_client(emulator, http, max_network_retries=2)
    emulator.fail_next(1, status=500, should_retry=False)

    with pytest.raises(stripe.APIError):
        await client.v1.checkout.sessions.create_async(checkout_params())

    assert [request.status for request in emulator.requests] == [500]


async def test_a_429_is_stripes_rate_limit_error(emulator: StripeEmulator, client: Any) -> None:
    emulator.fail_next(status=429)

    with pytest.raises(stripe.RateLimitError) as caught:
        await client.v1.checkout.sessions.create_async(checkout_params())

    error = emulator.requests[0].response["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "rate_limit")
    assert caught.value.http_status == 429
    # The next request is served normally.
    assert (await client.v1.checkout.sessions.create_async(checkout_params())).status == "open"


# -- the buyer's side and webhooks -------------------------------------------------------------


async def test_pay_delivers_an_event_stripe_python_verifies(
    emulator: StripeEmulator, client: Any, receiver: Receiver
) -> None:
    session = await client.v1.checkout.sessions.create_async(checkout_params())

    delivery = await emulator.pay(session.id)

    assert delivery.status == 200 and delivery.response_body == "ok"
    ((body, headers),) = receiver.received
    assert body == delivery.body
    assert headers["Stripe-Signature"] == delivery.signature_header
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["User-Agent"] == "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
    assert stripe.WebhookSignature.verify_header(
        body.decode(), headers["Stripe-Signature"], emulator.webhook_secret, tolerance=300
    )

    event = json.loads(body)
    assert set(fixture("event")) <= set(event)
    assert event["id"].startswith("evt_") and event["object"] == "event"
    assert (event["type"], event["api_version"]) == (
        "checkout.session.completed",
        DEFAULT_API_VERSION,
    )
    assert (event["livemode"], event["pending_webhooks"]) == (False, 1)
    assert event["request"] == {"id": None, "idempotency_key": None}
    paid = event["data"]["object"]
    assert (paid["id"], paid["status"], paid["payment_status"]) == (session.id, "complete", "paid")
    assert paid["metadata"] == ORDER_METADATA
    assert paid["customer_details"]["email"]
    assert paid == emulator.sessions[session.id]

    intent = await client.v1.payment_intents.retrieve_async(paid["payment_intent"])
    assert (intent.status, intent.amount, intent.currency) == ("succeeded", 79400, "usd")
    assert intent.metadata.to_dict() == ORDER_METADATA

    with pytest.raises(ValueError):
        await emulator.pay(session.id)


async def test_a_delayed_payment_completes_unpaid_then_succeeds(
    emulator: StripeEmulator, client: Any, receiver: Receiver
) -> None:
    session = await client.v1.checkout.sessions.create_async(checkout_params())

    completed = await emulator.complete_unpaid(session.id)
    succeeded = await emulator.async_payment_succeeded(session.id)

    assert completed.event["type"] == "checkout.session.completed"
    assert completed.event["data"]["object"]["payment_status"] == "unpaid"
    assert succeeded.event["type"] == "checkout.session.async_payment_succeeded"
    assert succeeded.event["data"]["object"]["payment_status"] == "paid"
    intent = emulator.payment_intents[emulator.sessions[session.id]["payment_intent"]]
    assert intent["status"] == "succeeded"


async def test_expiry_by_time_and_by_api_send_checkout_session_expired(
    emulator: StripeEmulator, client: Any, receiver: Receiver
) -> None:
    timed_out = await client.v1.checkout.sessions.create_async(checkout_params())
    cancelled = await client.v1.checkout.sessions.create_async(checkout_params())

    delivery = await emulator.expire_session(timed_out.id)
    assert delivery.event["type"] == "checkout.session.expired"
    assert delivery.event["data"]["object"]["status"] == "expired"

    await client.v1.checkout.sessions.expire_async(
        cancelled.id, options={"idempotency_key": "expire-cancelled"}
    )
    sent = await emulator.wait_for_delivery("checkout.session.expired", object_id=cancelled.id)
    assert sent.status == 200
    assert sent.event["request"]["idempotency_key"] == "expire-cancelled"
    assert sent.event["request"]["id"] == emulator.requests[-1].request_id

    events = await client.v1.events.list_async({"type": "checkout.session.expired"})
    assert [event.id for event in events.data] == [sent.event["id"], delivery.event["id"]]
    assert all(event.pending_webhooks == 0 for event in events.data)


async def test_deliver_lets_tests_forge_what_stripe_would_not_send(
    emulator: StripeEmulator, client: Any, receiver: Receiver
) -> None:
    session = await client.v1.checkout.sessions.create_async(checkout_params())
    event = emulator.build_event("checkout.session.completed", emulator.sessions[session.id])
    verify = stripe.WebhookSignature.verify_header
    secret = emulator.webhook_secret

    good = await emulator.deliver(event)
    duplicate = await emulator.deliver(event)
    assert good.body == duplicate.body
    assert verify(good.body.decode(), good.signature_header, secret, tolerance=300)

    wrong_secret = await emulator.deliver(event, secret="whsec_someone_else")
    with pytest.raises(stripe.SignatureVerificationError):
        verify(wrong_secret.body.decode(), wrong_secret.signature_header, secret, tolerance=300)

    stale = await emulator.deliver(event, timestamp=int(time.time()) - 301)
    with pytest.raises(stripe.SignatureVerificationError):
        verify(stale.body.decode(), stale.signature_header, secret, tolerance=300)

    tampered_body = good.body.replace(b"79400", b"1", 1)
    tampered = await emulator.deliver(
        event, body=tampered_body, signature_header=good.signature_header
    )
    with pytest.raises(stripe.SignatureVerificationError):
        verify(tampered.body.decode(), tampered.signature_header, secret, tolerance=300)

    assert [body for body, _ in receiver.received] == [
        good.body,
        good.body,
        good.body,
        stale.body,
        tampered_body,
    ]
    assert event["data"]["object"] is not emulator.sessions[session.id]


async def test_a_receiver_that_is_down_is_recorded_as_status_0(
    emulator: StripeEmulator, client: Any, receiver: Receiver
) -> None:
    session = await client.v1.checkout.sessions.create_async(checkout_params())
    receiver.status = 503
    refused = await emulator.deliver(emulator.build_event("ping", {"id": "x"}))
    assert refused.status == 503

    emulator.webhook_url = "http://127.0.0.1:9/stripe/webhook"
    delivery = await emulator.pay(session.id)

    assert delivery.status == 0
    assert delivery.response_body
    assert emulator.deliveries[-1] is delivery
    assert emulator.sessions[session.id]["status"] == "complete", "the payment stands"


def test_sign_is_stripes_scheme() -> None:
    emulator = StripeEmulator(webhook_secret="whsec_test")
    body = json.dumps({"id": "evt_1"}).encode()

    header = emulator.sign(body, timestamp=1_700_000_000)

    assert header == stripe.WebhookSignature.generate_signature_header(
        body.decode(), "whsec_test", timestamp=1_700_000_000
    )


def test_events_built_for_tests_copy_their_object() -> None:
    emulator = StripeEmulator()
    session: dict[str, Any] = {"id": "cs_test_x", "metadata": {"order_id": "1"}}

    event = emulator.build_event("checkout.session.completed", session)
    session["metadata"]["order_id"] = "2"

    assert event["data"]["object"]["metadata"] == {"order_id": "1"}
    assert event["api_version"] == DEFAULT_API_VERSION
    assert event["id"] != emulator.build_event("checkout.session.completed", session)["id"]


@pytest.mark.parametrize(
    ("headers", "body", "status", "message"),
    [
        ({}, "", 401, "You did not provide an API key."),
        (
            {"Content-Type": "application/json"},
            '{"mode": "payment"}',
            400,
            "Invalid request: unsupported Content-Type application/json.",
        ),
        (
            {"Stripe-Version": "latest", "Content-Type": "application/x-www-form-urlencoded"},
            "mode=payment",
            400,
            "Invalid Stripe API version: latest",
        ),
    ],
)
async def test_requests_stripe_python_would_never_send(
    emulator: StripeEmulator, headers: dict[str, str], body: str, status: int, message: str
) -> None:
    if status != 401:
        headers = {"Authorization": f"Bearer {emulator.api_key}", **headers}
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{emulator.base_url}/v1/checkout/sessions", data=body, headers=headers
        ) as answer,
    ):
        error = (await answer.json())["error"]

    assert answer.status == status
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith(message)
    assert emulator.sessions == {}


async def test_a_declined_card_leaves_the_session_open_and_sends_nothing(
    emulator: StripeEmulator, client: Any, receiver: Receiver
) -> None:
    session = await client.v1.checkout.sessions.create_async(checkout_params())

    error = emulator.decline_card(session.id)

    assert (error["code"], error["message"]) == ("card_declined", "Your card was declined.")
    assert receiver.received == [] and emulator.deliveries == []
    still = await client.v1.checkout.sessions.retrieve_async(session.id)
    assert (still.status, still.payment_status) == ("open", "unpaid")
    delivery = await emulator.pay(session.id)
    assert delivery.event["data"]["object"]["payment_status"] == "paid"


async def test_a_card_cannot_be_declined_on_a_session_no_longer_open(
    emulator: StripeEmulator, client: Any, receiver: Receiver
) -> None:
    session = await client.v1.checkout.sessions.create_async(checkout_params())
    await emulator.expire_session(session.id)

    with pytest.raises(ValueError, match="is expired, not open"):
        emulator.decline_card(session.id)


async def test_the_hosted_page_lists_the_line_items_the_api_returns(
    emulator: StripeEmulator, client: Any
) -> None:
    session = await client.v1.checkout.sessions.create_async(checkout_params())

    (item,) = emulator.line_items(session.id)

    listed = await client.v1.checkout.sessions.line_items.list_async(session.id)
    assert item["id"] == listed.data[0].id
    assert (item["description"], item["quantity"], item["amount_total"]) == (
        "The Forest Hiker",
        2,
        2 * 39700,
    )
    with pytest.raises(ValueError, match="no checkout session"):
        emulator.line_items("cs_test_missing")
