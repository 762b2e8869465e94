"""What a tap on Buy gets, decided against a real store and the Stripe emulator, without Telegram:
the open link again, a new one in its place, or a refusal that leaves the buyer's link alone."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.buyer.purchase import (
    Buyer,
    CannotReplace,
    CheckoutLinks,
    GiveAgain,
    MakeLink,
    NotEnoughLeft,
    PointToLink,
    Purchases,
)
from bot.catalog.model import Catalog, Product, parse_catalog
from sandbox.stripe_api import StripeEmulator
from storage import Order, OrderStatus, SQLiteStorage
from tests.stripe_sandbox import make_client, stripe_http, webhook_receiver
from webhooks.fulfilment import Fulfilment
from webhooks.reconciliation import Reconciler

ADA = Buyer(4242, 4242, name="Ada Lovelace", username="ada", language="en")
BOB = Buyer(4343, 4343, name="Bob", username=None, language="fr")


@pytest.fixture
def lamps_catalog() -> Catalog:
    return parse_catalog(
        {
            "shop": {"name": "Lamps"},
            "products": [
                {"id": "lamp", "title": "Lamp", "price": "30.00", "currency": "eur", "stock": 3},
                {"id": "map", "title": "Trail map", "price": "9.50", "currency": "eur"},
            ],
        },
        source="test.toml",
    )


@pytest.fixture
def lamp(lamps_catalog: Catalog) -> Product:
    product = lamps_catalog.get("lamp")
    assert product is not None
    return product


@pytest.fixture
def trail_map(lamps_catalog: Catalog) -> Product:
    product = lamps_catalog.get("map")
    assert product is not None
    return product


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStorage]:
    async with SQLiteStorage(tmp_path / "shop.db") as storage:
        yield storage


@pytest.fixture
async def purchases(store: SQLiteStorage, stripe_api: StripeEmulator) -> AsyncIterator[Purchases]:
    """Wired as the shop wires it: the buyer's earlier link is checked through reconciliation."""
    async with stripe_http() as http:
        client = make_client(stripe_api, http, max_network_retries=0)
        links = CheckoutLinks(
            client, bot_username="lamps_bot", instance_id=store.instance_id, expires_minutes=30
        )
        fulfilment = Fulfilment(store, admin_ids=frozenset(), on_queued=lambda: None)
        yield Purchases(store, links, Reconciler(store, client, fulfilment).check)


def now() -> int:
    return int(time.time())


async def linked(purchases: Purchases, buyer: Buyer, product: Product, quantity: int) -> Order:
    """A tap that gets a new order, and the order once its link is made."""
    decision = await purchases.decide(buyer, product, quantity, now=now())
    assert isinstance(decision, MakeLink), decision
    order = await purchases.make_link(decision.order, {product.id: product})
    assert order is not None and order.checkout_url is not None
    return order


async def status_of(store: SQLiteStorage, order: Order) -> OrderStatus:
    stored = await store.get_order(order.id)
    assert stored is not None
    return stored.status


async def test_a_first_tap_holds_its_units_in_a_pending_order_that_gets_a_session(
    purchases: Purchases, store: SQLiteStorage, lamp: Product, stripe_api: StripeEmulator
) -> None:
    decision = await purchases.decide(ADA, lamp, 2, now=now())

    assert isinstance(decision, MakeLink)
    order = decision.order
    assert (order.status, order.units, order.amount_total) == (OrderStatus.PENDING, 2, 6000)
    assert (order.telegram_user_id, order.buyer_name, order.language) == (
        4242,
        "Ada Lovelace",
        "en",
    )
    assert await store.stock_left(["lamp"]) == {"lamp": 1}
    linked_order = await purchases.make_link(order, {lamp.id: lamp})
    assert linked_order is not None and linked_order.checkout_session_id is not None
    session = stripe_api.sessions[linked_order.checkout_session_id]
    assert (session["status"], session["metadata"]["order_id"]) == ("open", str(order.id))


async def test_a_link_sent_moments_ago_is_pointed_to_and_a_later_tap_gets_it_again(
    purchases: Purchases, store: SQLiteStorage, trail_map: Product
) -> None:
    order = await linked(purchases, ADA, trail_map, 1)
    await store.set_pay_message(order.id, 77)

    assert await purchases.decide(ADA, trail_map, 1, now=now()) == PointToLink()
    later = await purchases.decide(ADA, trail_map, 1, now=now() + 60)
    assert isinstance(later, GiveAgain) and later.order.id == order.id
    assert len(await store.orders_of_buyer(ADA.telegram_user_id, 10)) == 1


async def test_a_link_that_never_reached_the_chat_is_given_again_at_once(
    purchases: Purchases, trail_map: Product
) -> None:
    order = await linked(purchases, ADA, trail_map, 1)

    again = await purchases.decide(ADA, trail_map, 1, now=now())

    assert isinstance(again, GiveAgain) and again.order.id == order.id


@pytest.mark.parametrize(
    ("quantity", "seconds_later"),
    # The link lasts 32 minutes (30 and Stripe's slack); 31 minutes on, it has one left.
    [(3, 0), (1, 31 * 60)],
    ids=["another quantity", "a link about to expire"],
)
async def test_an_open_link_is_closed_at_stripe_before_its_replacement_is_made(
    purchases: Purchases,
    store: SQLiteStorage,
    trail_map: Product,
    stripe_api: StripeEmulator,
    quantity: int,
    seconds_later: int,
) -> None:
    earlier = await linked(purchases, ADA, trail_map, 1)

    decision = await purchases.decide(ADA, trail_map, quantity, now=now() + seconds_later)

    assert isinstance(decision, MakeLink)
    assert decision.order.id != earlier.id and decision.order.units == quantity
    assert earlier.checkout_session_id is not None
    assert stripe_api.sessions[earlier.checkout_session_id]["status"] == "expired"
    assert await status_of(store, earlier) is OrderStatus.EXPIRED


async def test_a_refusal_for_stock_leaves_the_buyer_the_link_they_have(
    purchases: Purchases, store: SQLiteStorage, lamp: Product, stripe_api: StripeEmulator
) -> None:
    """Ada holds 2 of 3 and Bob 1: asking for 3 is refused before her link is closed."""
    earlier = await linked(purchases, ADA, lamp, 2)
    await linked(purchases, BOB, lamp, 1)

    assert await purchases.decide(ADA, lamp, 3, now=now()) == NotEnoughLeft(2)
    assert earlier.checkout_session_id is not None
    assert stripe_api.sessions[earlier.checkout_session_id]["status"] == "open"
    assert await status_of(store, earlier) is OrderStatus.PENDING


async def test_the_units_of_the_link_replaced_are_the_buyers_own(
    purchases: Purchases, store: SQLiteStorage, lamp: Product
) -> None:
    """Ada holds 2 of 3: she may change her mind to all 3."""
    await linked(purchases, ADA, lamp, 2)

    decision = await purchases.decide(ADA, lamp, 3, now=now())

    assert isinstance(decision, MakeLink) and decision.order.units == 3
    assert await store.stock_left(["lamp"]) == {"lamp": 0}


async def test_a_sold_out_product_is_refused_and_stores_nothing(
    purchases: Purchases, store: SQLiteStorage, lamp: Product
) -> None:
    await linked(purchases, ADA, lamp, 3)

    assert await purchases.decide(BOB, lamp, 1, now=now()) == NotEnoughLeft(0)
    assert await store.orders_of_buyer(BOB.telegram_user_id, 10) == []


async def test_a_link_paid_meanwhile_keeps_its_units(
    purchases: Purchases, store: SQLiteStorage, lamp: Product, stripe_api: StripeEmulator
) -> None:
    """Ada paid for 2 and the webhook has not come yet: asking for 3 more must not take over the
    units she paid for, which would sell 5 of 3."""
    earlier = await linked(purchases, ADA, lamp, 2)
    assert earlier.checkout_session_id is not None
    async with webhook_receiver(stripe_api):  # Stripe's event goes elsewhere: not applied here
        await stripe_api.pay(earlier.checkout_session_id)

        assert await purchases.decide(ADA, lamp, 3, now=now()) == NotEnoughLeft(1)
    assert await status_of(store, earlier) is OrderStatus.PAID


async def test_a_link_no_longer_open_that_stripe_cannot_check_keeps_its_units(
    purchases: Purchases, store: SQLiteStorage, lamp: Product, stripe_api: StripeEmulator
) -> None:
    """Ada paid for 2 and the webhook has not come yet; Stripe refuses to close her link, as
    it is complete, and then fails to say what became of it: no link for 3 more is made,
    which could sell 5 of 3."""
    earlier = await linked(purchases, ADA, lamp, 2)
    assert earlier.checkout_session_id is not None
    async with webhook_receiver(stripe_api):  # Stripe's event goes elsewhere: not applied here
        await stripe_api.pay(earlier.checkout_session_id)
        stripe_api.fail_next(
            1,
            status=400,
            error_type="invalid_request_error",
            message='Only Checkout Sessions with a status in ["open"] can be expired.',
        )
        stripe_api.fail_next(1, status=500, error_type="api_error", message="Down")

        assert await purchases.decide(ADA, lamp, 3, now=now()) == CannotReplace()
    assert len(await store.orders_of_buyer(ADA.telegram_user_id, 10)) == 1
    assert await store.stock_left(["lamp"]) == {"lamp": 1}


async def test_when_stripe_cannot_close_the_open_link_no_second_one_is_made(
    purchases: Purchases, store: SQLiteStorage, trail_map: Product, stripe_api: StripeEmulator
) -> None:
    earlier = await linked(purchases, ADA, trail_map, 1)
    stripe_api.fail_next(1, status=500, error_type="api_error", message="Down")

    assert await purchases.decide(ADA, trail_map, 2, now=now()) == CannotReplace()
    assert earlier.checkout_session_id is not None
    assert stripe_api.sessions[earlier.checkout_session_id]["status"] == "open"
    assert len(await store.orders_of_buyer(ADA.telegram_user_id, 10)) == 1


async def test_a_link_stripe_refuses_fails_its_order_and_gives_its_units_back(
    purchases: Purchases, store: SQLiteStorage, lamp: Product, stripe_api: StripeEmulator
) -> None:
    decision = await purchases.decide(ADA, lamp, 3, now=now())
    assert isinstance(decision, MakeLink)
    stripe_api.fail_next(1, status=400, error_type="invalid_request_error", message="No such")

    assert await purchases.make_link(decision.order, {lamp.id: lamp}) is None

    failed = await store.get_order(decision.order.id)
    assert failed is not None and failed.status is OrderStatus.FAILED
    assert failed.failure_reason is not None and "No such" in failed.failure_reason
    assert isinstance(await purchases.decide(BOB, lamp, 3, now=now()), MakeLink)
