"""Products and Prices put in the account by a test, read through stripe-python."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import stripe

from sandbox.stripe_api import StripeEmulator
from sandbox.stripe_emulator.objects import fixture
from tests.stripe_sandbox import checkout_params, make_client, stripe_http


@pytest.fixture
async def emulator() -> AsyncIterator[StripeEmulator]:
    async with StripeEmulator() as emulator:
        yield emulator


@pytest.fixture
async def client(emulator: StripeEmulator) -> AsyncIterator[Any]:
    async with stripe_http() as http:
        yield make_client(emulator, http, max_network_retries=0)


def stock(emulator: StripeEmulator) -> dict[str, dict[str, Any]]:
    return {
        "hiker": emulator.add_product(
            id="forest-hiker",
            name="The Forest Hiker",
            description="Breathtaking hike",
            images=["https://example.com/forest-hiker.jpg"],
            metadata={"sort": "10"},
            default_price={"unit_amount": 39700, "currency": "usd"},
        ),
        "sea": emulator.add_product(
            name="The Sea Explorer", default_price={"unit_amount": 49700, "currency": "usd"}
        ),
        "old": emulator.add_product(name="The Old Tour", active=False),
    }


async def test_products_list_newest_first_with_filters_and_expansion(
    emulator: StripeEmulator, client: Any
) -> None:
    made = stock(emulator)

    listed = await client.v1.products.list_async()
    active = await client.v1.products.list_async({"active": True})
    expanded = await client.v1.products.list_async(
        {"active": True, "expand": ["data.default_price"]}
    )

    assert [p.id for p in listed.data] == [made["old"]["id"], made["sea"]["id"], "forest-hiker"]
    assert listed.url == "/v1/products" and not listed.has_more
    assert [p.id for p in active.data] == [made["sea"]["id"], "forest-hiker"]
    hiker = expanded.data[1]
    assert set(fixture("product")) <= set(hiker.to_dict())
    assert (hiker.name, hiker.description, hiker.metadata.to_dict()) == (
        "The Forest Hiker",
        "Breathtaking hike",
        {"sort": "10"},
    )
    assert hiker.images == ["https://example.com/forest-hiker.jpg"]
    assert (hiker.default_price.unit_amount, hiker.default_price.currency) == (39700, "usd")
    assert hiker.default_price.id == made["hiker"]["default_price"]
    assert made["sea"]["id"].startswith("prod_")


async def test_products_page_with_limit_and_starting_after(
    emulator: StripeEmulator, client: Any
) -> None:
    made = stock(emulator)

    first = await client.v1.products.list_async({"limit": 2})
    rest = await client.v1.products.list_async({"limit": 2, "starting_after": first.data[-1].id})

    assert [p.id for p in first.data] == [made["old"]["id"], made["sea"]["id"]]
    assert first.has_more
    assert [p.id for p in rest.data] == ["forest-hiker"] and not rest.has_more
    every = [
        p.id async for p in (await client.v1.products.list_async({"limit": 1})).auto_paging_iter()
    ]
    assert every == [made["old"]["id"], made["sea"]["id"], "forest-hiker"]


async def test_prices_filter_by_product_and_active(emulator: StripeEmulator, client: Any) -> None:
    made = stock(emulator)
    retired = emulator.add_price("forest-hiker", unit_amount=35000, currency="usd", active=False)

    of_hiker = await client.v1.prices.list_async({"product": "forest-hiker"})
    active = await client.v1.prices.list_async({"product": "forest-hiker", "active": True})
    price = await client.v1.prices.retrieve_async(made["hiker"]["default_price"])

    assert [p.id for p in of_hiker.data] == [retired["id"], made["hiker"]["default_price"]]
    assert [p.id for p in active.data] == [made["hiker"]["default_price"]]
    assert set(fixture("price")) <= set(price.to_dict())
    assert (price.type, price.recurring, price.unit_amount_decimal) == (
        "one_time",
        None,
        Decimal(39700),
    )
    assert (await client.v1.products.retrieve_async("forest-hiker")).default_price == price.id


@pytest.mark.parametrize(
    ("call", "status", "param", "message"),
    [
        (lambda c: c.v1.products.retrieve_async("nope"), 404, "id", "No such product: 'nope'"),
        (lambda c: c.v1.prices.retrieve_async("price_nope"), 404, "price", "No such price"),
        (
            lambda c: c.v1.products.list_async({"active": "yes"}),
            400,
            "active",
            "Invalid boolean: yes",
        ),
        (
            lambda c: c.v1.products.list_async({"expand": ["default_price"]}),
            400,
            None,
            "This property cannot be expanded (default_price).",
        ),
        (
            lambda c: c.v1.prices.list_async({"starting_after": "price_nope"}),
            404,
            "starting_after",
            "No such price",
        ),
        (lambda c: c.v1.prices.list_async({"limit": 101}), 400, "limit", "less than or equal"),
    ],
)
async def test_bad_catalog_reads_are_refused(
    emulator: StripeEmulator, client: Any, call: Any, status: int, param: str, message: str
) -> None:
    stock(emulator)
    before = (dict(emulator.products), dict(emulator.prices))

    with pytest.raises(stripe.InvalidRequestError) as caught:
        await call(client)

    assert (caught.value.http_status, caught.value.param) == (status, param)
    assert message in (caught.value.user_message or "")
    assert (emulator.products, emulator.prices) == before


def test_add_product_refuses_what_stripe_would(emulator: StripeEmulator) -> None:
    stock(emulator)
    before = (dict(emulator.products), dict(emulator.prices))

    with pytest.raises(ValueError, match="already exists"):
        emulator.add_product(id="forest-hiker", name="Again")
    with pytest.raises(ValueError, match="currency"):
        emulator.add_product(name="T", default_price={"unit_amount": 100, "currency": "USD"})
    with pytest.raises(ValueError, match="end in 0"):
        emulator.add_product(name="T", default_price={"unit_amount": 1005, "currency": "kwd"})
    with pytest.raises(ValueError, match="name"):
        emulator.add_product(name="")
    with pytest.raises(ValueError, match="no product"):
        emulator.add_price("prod_missing", unit_amount=100, currency="usd")

    assert (emulator.products, emulator.prices) == before


def with_price(price_id: str, quantity: int = 2) -> dict[str, Any]:
    """The bot's Checkout parameters, the line naming a Price of the account."""
    return checkout_params(line_items=[{"price": price_id, "quantity": quantity}])


async def test_a_price_of_the_account_in_another_currency_than_the_first_line_is_refused(
    emulator: StripeEmulator, client: Any
) -> None:
    made = stock(emulator)
    euro = emulator.add_price(made["hiker"]["id"], unit_amount=35000, currency="eur")
    params = with_price(made["hiker"]["default_price"])
    params["line_items"].append({"price": euro["id"], "quantity": 1})

    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.checkout.sessions.create_async(params)

    assert caught.value.http_status == 400
    assert caught.value.param == "line_items[1][price]"
    assert "All line items must have the same currency" in (caught.value.user_message or "")
    assert emulator.sessions == {}


async def test_a_session_charges_a_price_of_the_account(
    emulator: StripeEmulator, client: Any
) -> None:
    made = stock(emulator)
    price = emulator.prices[made["hiker"]["default_price"]]

    session = await client.v1.checkout.sessions.create_async(with_price(price["id"], quantity=3))
    items = await client.v1.checkout.sessions.line_items.list_async(session.id)

    assert (session.amount_total, session.currency) == (3 * price["unit_amount"], price["currency"])
    (item,) = items.data
    assert (item.description, item.quantity) == ("The Forest Hiker", 3)
    assert item.price.to_dict(for_json=True) == price
    assert (item.price.id, item.price.product, item.price.active) == (
        price["id"],
        "forest-hiker",
        True,
    )


@pytest.mark.parametrize(
    ("which", "status", "code", "message"),
    [
        ("unknown", 404, "resource_missing", "No such price: 'price_unknown'"),
        ("archived price", 400, None, "The price specified is inactive"),
        ("archived product", 400, None, "belongs to an inactive product"),
    ],
)
async def test_a_price_checkout_cannot_use_is_refused(
    emulator: StripeEmulator,
    client: Any,
    which: str,
    status: int,
    code: str | None,
    message: str,
) -> None:
    made = stock(emulator)
    price_ids = {
        "unknown": "price_unknown",
        "archived price": emulator.add_price(
            "forest-hiker", unit_amount=35000, currency="usd", active=False
        )["id"],
        "archived product": emulator.add_price(made["old"]["id"], unit_amount=100, currency="usd")[
            "id"
        ],
    }
    before = (dict(emulator.products), dict(emulator.prices))

    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.checkout.sessions.create_async(with_price(price_ids[which]))

    error = caught.value
    assert (error.http_status, error.code, error.param) == (
        status,
        code,
        "line_items[0][price]",
    )
    assert message in (error.user_message or "")
    assert emulator.sessions == {}
    assert (emulator.products, emulator.prices) == before


async def test_a_line_names_a_price_or_gives_price_data_not_both(
    emulator: StripeEmulator, client: Any
) -> None:
    made = stock(emulator)
    both = checkout_params()
    both["line_items"][0]["price"] = made["hiker"]["default_price"]

    with pytest.raises(stripe.InvalidRequestError) as caught:
        await client.v1.checkout.sessions.create_async(both)

    assert caught.value.http_status == 400
    assert emulator.sessions == {}
