"""A buyer's taps: one open link per product, fast taps, too many taps, and data not ours."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from bot.buyer.tap_guard import TAPS_PER_WINDOW, WINDOW_SECONDS
from bot.catalog.model import Catalog
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import ApiCall, TelegramEmulator, TgUser
from tests.helpers import (
    QUICK_RETRIES,
    answer_to,
    button_with,
    buttons,
    from_now_on,
    has_url_button,
    link_stored,
    next_message,
    open_card,
    open_catalog,
    rows,
    sent_after,
    session_behind,
    snapshot,
    stale_tap,
    tap_and_see,
    tap_product,
    until,
    write_directly,
)


def links_sent(telegram: TelegramEmulator, user: TgUser) -> list[dict[str, Any]]:
    return [
        call.params
        for call in telegram.calls_to("sendMessage")
        if str(call.params.get("chat_id")) == str(user.id) and "url" in str(call.params)
    ]


async def test_a_second_tap_soon_after_points_to_the_link_already_sent(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    catalog_message = await open_card(telegram, ada, "The Forest Hiker")
    data = button_with(catalog_message, "buy:")["callback_data"]
    after = from_now_on(telegram)
    await telegram.tap(ada, catalog_message, data)
    await next_message(telegram, ada, with_buttons="url", after=after)
    await until(link_stored(shop.settings.database_path))

    answer = await answer_to(telegram, await telegram.tap(ada, catalog_message, data))

    assert "already in the chat" in answer["text"]
    assert len(stripe_api.sessions) == 1
    assert len(rows(shop.settings.database_path, "SELECT id FROM orders")) == 1


async def test_a_later_tap_gives_the_same_open_link_again(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """The buyer scrolled away from their link: the same session, in a new message."""
    ada = telegram.user(4242, "Ada")
    first = await tap_product(telegram, ada, "The Forest Hiker")
    await until(link_stored(shop.settings.database_path))
    # A minute passes, as the owner would see it in the file.
    await write_directly(
        shop.settings.database_path, "UPDATE orders SET updated_at = updated_at - 60"
    )

    second = await tap_product(telegram, ada, "The Forest Hiker")
    await until(
        lambda: (
            rows(shop.settings.database_path, "SELECT pay_message_id FROM orders")
            == [{"pay_message_id": second["message_id"]}]
        )
    )

    assert session_behind(stripe_api, second) == session_behind(stripe_api, first)
    assert len(stripe_api.sessions) == 1


async def test_taps_at_the_same_instant_make_one_session(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    catalog_message = await open_card(telegram, ada, "The Forest Hiker")
    data = button_with(catalog_message, "buy:")["callback_data"]

    updates = await asyncio.gather(*(telegram.tap(ada, catalog_message, data) for _ in range(5)))
    answers = [await answer_to(telegram, update) for update in updates]

    assert len(stripe_api.sessions) == 1
    assert len(links_sent(telegram, ada)) == 1
    assert sum("already in the chat" in answer.get("text", "") for answer in answers) == 4


async def test_a_buyer_tapping_dozens_of_times_is_slowed_down_politely(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    bob = telegram.user(4343, "Bob")
    titles = ["The Forest Hiker", "The Sea Explorer", "The Snow Adventurer"]
    cards = [await open_card(telegram, ada, title) for title in titles]
    answers = []
    for number in range(TAPS_PER_WINDOW + 2):
        card = cards[number % len(titles)]
        data = button_with(card, "buy:")["callback_data"]
        answers.append(await answer_to(telegram, await telegram.tap(ada, card, data)))

    slowed = [answer for answer in answers if "Please wait" in answer.get("text", "")]
    assert len(slowed) == 2 and all(answer["show_alert"] for answer in slowed)
    assert len(stripe_api.sessions) == len(titles)
    # Another buyer is not slowed down by Ada.
    await tap_product(telegram, bob, "The Forest Hiker")
    assert len(stripe_api.sessions) == len(titles) + 1


class ManualClock:
    """A clock that moves only when the test moves it (from a whole number of
    seconds, so that the seconds left come out whole)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_slowed_down_buyer_is_told_the_seconds_left_and_may_tap_once_they_pass(
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
) -> None:
    """The tap guard reads the service's wall clock (the taps are counted in the database, for
    every process on it): a minute passes without waiting for it."""
    clock = ManualClock()
    async with Service(make_settings(), catalog, wall_clock=clock, outbox_delays=QUICK_RETRIES):
        ada = telegram.user(4242, "Ada")
        card = await open_card(telegram, ada, "The Forest Hiker")
        data = button_with(card, "buy:")["callback_data"]

        async def tap() -> str:
            answer = await answer_to(telegram, await telegram.tap(ada, card, data))
            return str(answer.get("text", ""))

        for _ in range(TAPS_PER_WINDOW):
            assert "Please wait" not in await tap()
        assert "Please wait 60 s" in await tap()
        clock.now += WINDOW_SECONDS / 2
        assert "Please wait 30 s" in await tap()
        clock.now += WINDOW_SECONDS / 2
        assert "already in the chat" in await tap()
    assert len(stripe_api.sessions) == 1


@pytest.mark.parametrize(
    "data",
    ["hello", "buy:", "buy:" + "x" * 80, "stats:today", "again:²"],
    ids=["not ours", "empty product", "too long", "another prefix", "a digit int() refuses"],
)
async def test_callback_data_we_never_sent_gets_an_answer_and_changes_nothing(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator, data: str
) -> None:
    ada = telegram.user(4242, "Ada")
    catalog_message = await open_catalog(telegram, ada)
    before = snapshot(shop.settings.database_path)
    update = await telegram.forge_tap(ada, catalog_message, data)
    answer = await answer_to(telegram, update)
    assert "no longer on sale" in answer["text"]
    assert snapshot(shop.settings.database_path) == before
    assert not stripe_api.sessions


async def test_an_update_without_a_user_is_ignored(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """A message posted on behalf of a channel has a sender chat but no user."""
    ada = telegram.user(4242, "Ada")
    before = snapshot(shop.settings.database_path)
    channel = {"id": -1001, "type": "channel", "title": "News"}
    await telegram.push_update(
        {
            "message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": -1001, "type": "channel", "title": "News"},
                "sender_chat": channel,
                "text": "/start",
                "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
            }
        }
    )
    # The next update is handled, so the one before it was handled without harm.
    await open_catalog(telegram, ada)
    assert snapshot(shop.settings.database_path) == before
    assert not [c for c in telegram.calls_to("sendMessage") if c.params["chat_id"] == -1001]


async def test_a_link_for_another_quantity_closes_the_earlier_one_at_stripe(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """No one can pay both: the earlier session is expired before the new link is given."""
    ada = telegram.user(4242, "Ada")
    first = await tap_product(telegram, ada, "Trail map")
    await until(link_stored(shop.settings.database_path))
    earlier = session_behind(stripe_api, first)

    second = await tap_product(telegram, ada, "Trail map", quantity=3)

    assert stripe_api.sessions[earlier["id"]]["status"] == "expired"
    assert session_behind(stripe_api, second)["status"] == "open"
    await telegram.wait_for("editMessageText", lambda c: "expired" in str(c.params.get("text")))
    (old,) = [m for m in telegram.messages_to(ada.id) if m["message_id"] == first["message_id"]]
    assert all("url" not in button for button in old["reply_markup"]["inline_keyboard"][0])
    statuses = rows(shop.settings.database_path, "SELECT status, quantity FROM orders ORDER BY id")
    assert statuses == [
        {"status": "expired", "quantity": 1},
        {"status": "pending", "quantity": 3},
    ]


async def test_when_the_earlier_link_cannot_be_closed_no_second_one_is_made(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    first = await tap_product(telegram, ada, "Trail map")
    await until(link_stored(shop.settings.database_path))
    earlier = session_behind(stripe_api, first)
    stripe_api.fail_next(3, status=500, error_type="api_error", message="Down")

    card = await open_card(telegram, ada, "Trail map")
    for _ in range(2):
        (more,) = [button for button in buttons(card) if button["text"] == "+"]
        card = await tap_and_see(telegram, ada, card, more["callback_data"])
    before = snapshot(shop.settings.database_path)
    update = await telegram.tap(ada, card, button_with(card, "buy:")["callback_data"])
    told = await answer_to(telegram, update)

    assert "could not create a payment link" in told["text"] and told["show_alert"]
    assert stripe_api.sessions[earlier["id"]]["status"] == "open"
    assert len(stripe_api.sessions) == 1
    assert snapshot(shop.settings.database_path) == before


async def test_a_late_buy_tap_still_gets_its_link(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    card = await open_card(telegram, ada, "Trail map")
    after = from_now_on(telegram)
    await telegram.push_update(stale_tap(ada, card, button_with(card, "buy:")["callback_data"], 1))
    await telegram.wait_until(lambda: bool(sent_after(telegram, ada, after)), timeout=10)
    first = sent_after(telegram, ada, after)[0]
    # A session was made and the order holds a unit of stock...
    assert len(stripe_api.sessions) == 1
    # ...so the buyer must get its Pay button, not an apology.
    assert has_url_button(first), f"the buyer got {first.get('text')!r} instead of the link"


async def test_a_late_tap_on_a_product_still_opens_its_card(
    shop: Service, telegram: TelegramEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    home = await open_catalog(telegram, ada)
    gear = next(b for b in buttons(home) if b["text"] == "Gear")
    listing = await tap_and_see(telegram, ada, home, gear["callback_data"])
    data = next(b for b in buttons(listing) if b["text"].startswith("Trail map"))["callback_data"]
    after = from_now_on(telegram)
    await telegram.push_update(stale_tap(ada, listing, data, 2))

    def shown() -> list[ApiCall]:
        return [
            c
            for c in telegram.calls
            if after(c) and c.status == 200 and c.method in ("editMessageText", "sendMessage")
        ]

    await telegram.wait_until(lambda: bool(shown()), timeout=10)
    view = shown()[0].response["result"]
    assert "Trail map" in view["text"] and button_with(view, "buy:"), view["text"]


async def test_a_link_that_never_reached_the_chat_is_not_said_to_be_above(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    card = await open_card(telegram, ada, "Trail map")
    data = button_with(card, "buy:")["callback_data"]
    # Telegram refuses the message with the link (here: the buyer had blocked the bot; a
    # timeout, a 5xx or a late answer end the same way).
    telegram.block(ada.id)
    failed = from_now_on(telegram)
    await answer_to(telegram, await telegram.tap(ada, card, data))
    await telegram.wait_until(
        lambda: any(
            failed(c) and c.method == "sendMessage" and c.status == 403 for c in telegram.calls
        ),
        timeout=10,
    )
    assert len(stripe_api.sessions) == 1
    assert not [m for m in telegram.messages_to(ada.id) if has_url_button(m)]
    telegram.unblock(ada.id)

    after = from_now_on(telegram)
    answer = await answer_to(telegram, await telegram.tap(ada, card, data))
    if "already in the chat" in answer.get("text", ""):
        raise AssertionError(f"told {answer['text']!r}, but no message in the chat holds the link")
    await next_message(telegram, ada, with_buttons="url", after=after)


async def test_a_link_given_again_does_not_promise_more_time_than_it_has(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    first = await tap_product(telegram, ada, "The Forest Hiker")
    await until(link_stored(shop.settings.database_path))
    # 25 minutes later, as the file shows it: five minutes are left on the link.
    await write_directly(
        shop.settings.database_path,
        "UPDATE orders SET checkout_expires_at = CAST(strftime('%s', 'now') AS INTEGER)"
        " + 300, updated_at = updated_at - 1500, created_at = created_at - 1500",
    )

    again = await tap_product(telegram, ada, "The Forest Hiker")
    assert session_behind(stripe_api, again) == session_behind(stripe_api, first)
    assert "30 minutes" not in again["text"], again["text"]


async def test_a_forged_new_link_with_a_huge_number_gets_the_polite_answer(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    home = await open_catalog(telegram, ada)
    after = from_now_on(telegram)
    update = await telegram.forge_tap(ada, home, "again:" + "9" * 20)
    query_id = update["callback_query"]["id"]

    def answered() -> bool:
        return any(
            c.method == "answerCallbackQuery" and c.params.get("callback_query_id") == query_id
            for c in telegram.calls
        )

    def apologised() -> bool:
        return any("went wrong" in m.get("text", "") for m in sent_after(telegram, ada, after))

    await telegram.wait_until(lambda: answered() or apologised(), timeout=10)
    assert answered() and not apologised(), "the forged tap crashed the handler"
    assert not stripe_api.sessions
