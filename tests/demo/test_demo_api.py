"""The demo's HTTP and WebSocket API, without a browser: a person's steps, the stand-in for
Stripe's page, and the answers to bad requests (which change nothing)."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.demo.command import example_catalog
from bot.demo.people import ADMIN_ID
from bot.demo.shop import DemoShop
from storage import OrderStatus
from tests.demo.steps import (
    REFERENCE,
    REFUND_EVENTS,
    demo_in_process,
    has_button,
    has_text,
    last_with_button,
    next_snapshot,
    refund_answered,
    refund_questions,
    tap_as,
    texts,
)
from tests.helpers import REPO


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[tuple[DemoShop, str]]:
    async with demo_in_process(tmp_path) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(http: aiohttp.ClientSession, url: str, body: Any) -> tuple[int, dict[str, Any]]:
    async with http.post(url, json=body) as response:
        return response.status, await response.json()


async def tap(
    http: aiohttp.ClientSession, url: str, feed: Any, snapshot: dict[str, Any], label: str
) -> dict[str, Any]:
    """Tap the latest button starting with `label`; the snapshot once the bot answered."""
    message_id, button = last_with_button(snapshot, label)
    status, answer = await post(
        http,
        f"{url}/api/tap",
        {"as": "buyer-en", "message_id": message_id, "data": button["callback_data"]},
    )
    assert status == 200, answer
    return await next_snapshot(feed, lambda s: s["chat"]["answers"] and s != snapshot)


async def open_checkout(
    demo: tuple[DemoShop, str], http: aiohttp.ClientSession, feed: Any
) -> tuple[str, dict[str, Any]]:
    """As the English buyer: /start, Tours, The Forest Hiker, Buy; the Pay button's page path."""
    _, url = demo
    status, _ = await post(http, f"{url}/api/say", {"as": "buyer-en", "text": "/start"})
    assert status == 200
    snapshot = await next_snapshot(feed, has_button("Tours"))
    for label, then in (("Tours", "The Forest Hiker"), ("The Forest Hiker", "Buy"), ("Buy", "Pay")):
        message_id, button = last_with_button(snapshot, label)
        body = {"as": "buyer-en", "message_id": message_id, "data": button["callback_data"]}
        assert (await post(http, f"{url}/api/tap", body))[0] == 200
        snapshot = await next_snapshot(feed, has_button(then))
    _, pay = last_with_button(snapshot, "Pay")
    status, opened = await post(http, f"{url}/api/open", {"as": "buyer-en", "url": pay["url"]})
    assert status == 200 and opened["open"].startswith("/checkout/cs_")
    return opened["open"], snapshot


async def test_a_purchase_through_the_api_ends_with_the_confirmation_in_the_chat(
    demo: tuple[DemoShop, str], http: aiohttp.ClientSession
) -> None:
    shop, url = demo
    async with http.ws_connect(f"{url}/api/live?as=buyer-en") as feed:
        path, _ = await open_checkout(demo, http, feed)
        session_id = path.rpartition("/")[2]
        async with http.get(f"{url}/api{path}") as response:
            page = await response.json()
        (item,) = page["line_items"]
        assert item["description"] == "The Forest Hiker" and page["outcomes"][0] == "pay"

        status, done = await post(http, f"{url}/api{path}", {"outcome": "pay"})

        assert (status, done["returned"], done["buyer"]) == (200, True, "buyer-en")
        snapshot = await next_snapshot(feed, has_text("Payment received"))
    assert any(
        m["outgoing"] and m["text"].startswith("/start paid-") for m in snapshot["chat"]["messages"]
    )
    (order,) = [o for o in snapshot["machinery"]["orders"] if o["session"] == session_id]
    stored = await shop.service.storage.get_order(
        int(shop.stripe.sessions[session_id]["metadata"]["order_id"])
    )
    assert stored is not None and stored.status is OrderStatus.PAID
    assert order["status"] == "paid" and order["total"] == page["total"]
    assert {e["type"] for e in snapshot["machinery"]["events"]} == {"checkout.session.completed"}
    assert all(e["status"] == 200 for e in snapshot["machinery"]["events"])


async def test_a_delayed_payment_that_fails_offers_to_try_again(
    demo: tuple[DemoShop, str], http: aiohttp.ClientSession
) -> None:
    _, url = demo
    async with http.ws_connect(f"{url}/api/live?as=buyer-en") as feed:
        path, _ = await open_checkout(demo, http, feed)
        assert (await post(http, f"{url}/api{path}", {"outcome": "delayed"}))[0] == 200
        await next_snapshot(feed, has_text("being processed"))
        async with http.get(f"{url}/api{path}") as response:
            assert (await response.json())["outcomes"] == ["delayed_succeeds", "delayed_fails"]

        status, done = await post(http, f"{url}/api{path}", {"outcome": "delayed_fails"})

        assert (status, done["returned"]) == (200, False)
        snapshot = await next_snapshot(feed, has_button("Try again"))
    assert any(o["status"] == "failed" for o in snapshot["machinery"]["orders"])


async def test_a_declined_card_changes_nothing_and_the_buyer_can_still_pay(
    demo: tuple[DemoShop, str], http: aiohttp.ClientSession
) -> None:
    shop, url = demo
    async with http.ws_connect(f"{url}/api/live?as=buyer-en") as feed:
        path, _ = await open_checkout(demo, http, feed)
        session_id = path.rpartition("/")[2]
        before = copy.deepcopy(shop.stripe.sessions[session_id])

        status, done = await post(http, f"{url}/api{path}", {"outcome": "decline"})

        assert (status, done["message"], done["returned"]) == (
            200,
            "Your card was declined.",
            False,
        )
        assert shop.stripe.sessions[session_id] == before and shop.stripe.deliveries == []
        assert (await post(http, f"{url}/api{path}", {"outcome": "pay"}))[0] == 200
        await next_snapshot(feed, has_text("Payment received"))


async def test_bad_requests_are_refused_with_a_reason_and_change_nothing(
    demo: tuple[DemoShop, str], http: aiohttp.ClientSession
) -> None:
    shop, url = demo
    calls_before = len(shop.telegram.calls_to("sendMessage"))
    refused = [
        (f"{url}/api/say", {"as": "nobody", "text": "/start"}, 400, "unknown person"),
        (f"{url}/api/say", {"as": "buyer-en", "text": "  "}, 400, "empty"),
        (f"{url}/api/say", {"as": "buyer-en", "text": "x" * 4097}, 400, "at most 4096"),
        (f"{url}/api/say", ["not", "an", "object"], 400, "JSON object"),
        (
            f"{url}/api/tap",
            {"as": "buyer-en", "message_id": 99, "data": "c:tours:0"},
            404,
            "no message 99",
        ),
        (f"{url}/api/tap", {"as": "buyer-en", "message_id": "1", "data": "x"}, 400, "whole number"),
        (f"{url}/api/open", {"as": "buyer-en", "url": "https://evil.example/"}, 400, "deep links"),
        (f"{url}/api/checkout/cs_test_nope", {"outcome": "pay"}, 404, "no Checkout Session"),
    ]
    for target, body, status, reason in refused:
        answer = await post(http, target, body)
        assert answer[0] == status and reason in answer[1]["error"], (target, body, answer)
    async with http.get(f"{url}/api/chat?as=buyer-en") as response:
        chat = await response.json()
    assert chat["messages"] == [] and len(shop.telegram.calls_to("sendMessage")) == calls_before
    async with http.get(f"{url}/api/files/BQAC-nothing") as response:
        assert response.status == 404
    async with http.get(f"{url}/static/../settings.py") as response:
        assert response.status == 404


async def test_an_outcome_the_session_no_longer_offers_is_refused_and_changes_nothing(
    demo: tuple[DemoShop, str], http: aiohttp.ClientSession
) -> None:
    shop, url = demo
    async with http.ws_connect(f"{url}/api/live?as=buyer-en") as feed:
        path, _ = await open_checkout(demo, http, feed)
        assert (await post(http, f"{url}/api{path}", {"outcome": "expire"}))[0] == 200
        await next_snapshot(feed, has_text("expired"))
    session_id = path.rpartition("/")[2]
    before = copy.deepcopy(shop.stripe.sessions[session_id])
    deliveries = len(shop.stripe.deliveries)

    for outcome, status, reason in (
        ("pay", 409, "is expired"),
        ("steal", 400, "unknown outcome"),
    ):
        answer = await post(http, f"{url}/api{path}", {"outcome": outcome})
        assert answer[0] == status and reason in answer[1]["error"]
    code = await post(http, f"{url}/api{path}/promotion-code", {"code": "SUMMER"})
    assert code[0] == 409

    assert shop.stripe.sessions[session_id] == before and len(shop.stripe.deliveries) == deliveries
    (order,) = await shop.service.storage.orders_of_buyer(100_001, 5)
    assert order.status is OrderStatus.EXPIRED


async def test_a_promotion_code_the_account_lacks_is_refused_on_the_page(
    demo: tuple[DemoShop, str], http: aiohttp.ClientSession
) -> None:
    shop, url = demo
    async with http.ws_connect(f"{url}/api/live?as=buyer-en") as feed:
        path, _ = await open_checkout(demo, http, feed)
    session_id = path.rpartition("/")[2]
    before = copy.deepcopy(shop.stripe.sessions[session_id])

    status, answer = await post(http, f"{url}/api{path}/promotion-code", {"code": "SUMMER"})

    assert (status, answer["error"]) == (400, "This code is invalid.")
    assert shop.stripe.sessions[session_id] == before


async def test_the_feed_refuses_an_unknown_person(
    demo: tuple[DemoShop, str], http: aiohttp.ClientSession
) -> None:
    _, url = demo
    async with http.get(f"{url}/api/live?as=nobody") as response:
        assert response.status == 400
        assert "unknown person" in (await response.json())["error"]


async def test_the_settings_come_from_the_emulators_never_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "987654321:AAreal-looking-token")
    monkeypatch.setenv("HTTP_HOST", "0.0.0.0")
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("STRIPE_SECRET_KEY=sk_live_from_dotenv\nADMIN_IDS=1\n")

    async with demo_in_process(tmp_path) as (shop, _):
        settings = shop.service.settings

    assert settings.telegram_bot_token.get_secret_value() == shop.telegram.token
    assert settings.stripe_secret_key.get_secret_value() == shop.stripe.api_key
    assert settings.http_host == "127.0.0.1"
    assert settings.admin_ids == frozenset({ADMIN_ID})


def test_the_packaged_example_catalog_is_the_repository_s() -> None:
    assert example_catalog().read_bytes() == (REPO / "catalog.toml").read_bytes()


async def test_the_admin_refunds_a_paid_order_with_refund_and_its_confirm_button(
    demo: tuple[DemoShop, str], http: aiohttp.ClientSession
) -> None:
    _, url = demo
    async with (
        http.ws_connect(f"{url}/api/live?as=buyer-en") as feed,
        http.ws_connect(f"{url}/api/live?as=admin") as desk,
    ):
        path, _ = await open_checkout(demo, http, feed)
        assert (await post(http, f"{url}/api{path}", {"outcome": "pay"}))[0] == 200
        paid = await next_snapshot(feed, has_text("Payment received"))
        (confirmation,) = [t for t in texts(paid) if "Payment received" in t]
        reference = REFERENCE.search(confirmation)
        assert reference is not None, confirmation
        ref = reference.group(1)

        said = {"as": "admin", "text": f"/refund {ref}"}
        assert (await post(http, f"{url}/api/say", said))[0] == 200
        question = await next_snapshot(desk, has_button("Refund $"))
        message_id, _ = last_with_button(question, "Refund $")
        await tap_as(http, url, "admin", question, "Refund $")

        answered = await next_snapshot(
            desk,
            lambda s: any("Requested at Stripe" in m.get("text", "") for m in refund_questions(s)),
        )
        (edited,) = [m for m in refund_questions(answered) if m["message_id"] == message_id]
        assert f"#{ref}" in edited["text"] and "(succeeded)" in edited["text"]
        assert not (edited.get("reply_markup") or {}).get("inline_keyboard")
        told = await next_snapshot(feed, has_text("was refunded"))
        assert any(f"#{ref}" in t and "was refunded" in t for t in texts(told))
        await next_snapshot(desk, refund_answered)

        async with http.get(f"{url}/api/machinery") as response:
            machinery = await response.json()
        (order,) = [o for o in machinery["orders"] if o["reference"] == ref]
        assert order["status"] == "refunded"
        refund_events = [e for e in machinery["events"] if e["type"] in REFUND_EVENTS]
        assert {e["type"] for e in refund_events} == REFUND_EVENTS
        assert all(e["status"] == 200 for e in refund_events)

        said = {"as": "admin", "text": f"/order {ref}"}
        assert (await post(http, f"{url}/api/say", said))[0] == 200
        details = await next_snapshot(desk, has_text(f"Order #{ref} · refunded"))
    (shown,) = [t for t in texts(details) if t.startswith(f"Order #{ref}")]
    assert f"Refunded {order['total']}" in shown
