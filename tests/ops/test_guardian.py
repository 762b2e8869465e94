"""The guardian, driven through the emulators: each condition tells every admin once, again
only after the hour while it lasts, and once more when it ends."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable

import pytest

from bot.catalog.model import Catalog
from bot.ops.guardian import Guardian, GuardLimits
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from tests.helpers import (
    ADMIN_ID,
    QUICK_RETRIES,
    ask,
    button_with,
    from_now_on,
    next_message,
    open_card,
    open_order,
    rows,
    until,
)
from tests.ops.steps import METRICS_TOKEN, Clocks, health_alerts, scrape

HOUR = 3600.0
WAITING = "SELECT id FROM outbox WHERE sent_at IS NULL AND given_up_at IS NULL"


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


@pytest.fixture
async def guarded(
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    stripe_api: StripeEmulator,
    clocks: Clocks,
    request: pytest.FixtureRequest,
    seconds_per_chat: float,
) -> AsyncIterator[Service]:
    """The shop with clocks the test moves; limits from the test's `limits` parameter."""
    limits = getattr(request, "param", GuardLimits())
    async with Service(
        make_settings(metrics_token=METRICS_TOKEN),
        catalog,
        outbox_delays=QUICK_RETRIES,
        clock=clocks.clock,
        wall_clock=clocks.wall,
        guard_limits=limits,
        seconds_per_chat=seconds_per_chat,
    ) as service:
        stripe_api.webhook_url = f"{service.http_url}/stripe/webhook"
        yield service


def guardian_of(shop: Service) -> Guardian:
    assert shop.guardian is not None
    return shop.guardian


async def test_a_webhook_that_never_comes_is_told_once_an_hour_and_when_it_clears(
    guarded: Service,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    clocks: Clocks,
    closed_port: int,
) -> None:
    shop, database = guarded, guarded.settings.database_path
    owner = telegram.user(ADMIN_ID, "Owner")
    ada = telegram.user(4242, "Ada")
    _, session = await open_order(shop, telegram, stripe_api, ada)
    stripe_api.webhook_url = f"http://127.0.0.1:{closed_port}/stripe/webhook"
    lost = await stripe_api.pay(session["id"])
    assert lost.status == 0
    await guardian_of(shop).check()
    assert health_alerts(database) == []

    after = from_now_on(telegram)
    await telegram.send_text(owner, "/reconcile")
    await next_message(telegram, owner, text="Reconciliation done: 1 checked, 1 paid", after=after)
    after = from_now_on(telegram)
    await guardian_of(shop).check()
    told = await next_message(telegram, owner, text="webhook is not reaching", after=after)
    assert "checkout-bot doctor" in told["text"]
    await guardian_of(shop).check()
    clocks.shift += HOUR - 60
    await guardian_of(shop).check()
    assert len(health_alerts(database)) == 1

    clocks.shift += 60
    after = from_now_on(telegram)
    await guardian_of(shop).check()
    await next_message(telegram, owner, text="webhook is not reaching", after=after)
    assert len(health_alerts(database)) == 2

    stripe_api.webhook_url = None  # the lost retries are dropped with the wrong endpoint
    stripe_api.webhook_url = f"{shop.http_url}/stripe/webhook"
    assert (await stripe_api.redeliver(lost.event["id"])).status == 200
    after = from_now_on(telegram)
    await guardian_of(shop).check()
    await next_message(telegram, owner, text="Resolved: Stripe's webhook", after=after)
    await guardian_of(shop).check()
    assert len(health_alerts(database)) == 3


async def test_a_wrong_signing_secret_is_told(
    guarded: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    owner = telegram.user(ADMIN_ID, "Owner")
    ada = telegram.user(4242, "Ada")
    _, session = await open_order(guarded, telegram, stripe_api, ada)
    stripe_api.webhook_secret = "whsec_rotated_in_the_dashboard"
    assert (await stripe_api.pay(session["id"])).status == 400
    after = from_now_on(telegram)
    await guardian_of(guarded).check()
    told = await next_message(telegram, owner, text="signing secret does not match", after=after)
    assert "STRIPE_WEBHOOK_SECRET" in told["text"]
    assert "whsec_" + "rotated" not in told["text"]


async def test_messages_stuck_in_a_telegram_outage_are_told_when_it_ends(
    guarded: Service,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    clocks: Clocks,
) -> None:
    owner = telegram.user(ADMIN_ID, "Owner")
    ada = telegram.user(4242, "Ada")
    _, session = await open_order(guarded, telegram, stripe_api, ada)
    telegram.outage = True
    assert (await stripe_api.pay(session["id"])).status == 200
    await guardian_of(guarded).check()
    assert health_alerts(guarded.settings.database_path) == []
    clocks.wall_shift += 301
    await guardian_of(guarded).check()
    after = from_now_on(telegram)
    telegram.outage = False
    told = await next_message(telegram, owner, text="not going out", after=after)
    assert "the oldest for 5 min" in told["text"]
    await next_message(telegram, ada, text="Payment received", after=after)
    await until(lambda: not rows(guarded.settings.database_path, WAITING))
    after = from_now_on(telegram)
    await guardian_of(guarded).check()
    await next_message(telegram, owner, text="Resolved: chat messages", after=after)


async def test_a_refused_stripe_key_and_failing_links_are_told(
    guarded: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    owner = telegram.user(ADMIN_ID, "Owner")
    stripe_api.api_key = "sk_test_rolled_in_the_dashboard"
    for number in range(3):
        buyer = telegram.user(5000 + number, "Buyer")
        card = await open_card(telegram, buyer, "The Forest Hiker")
        after = from_now_on(telegram)
        await telegram.tap(buyer, card, button_with(card, "buy:")["callback_data"])
        await next_message(telegram, buyer, after=after)
    after = from_now_on(telegram)
    await guardian_of(guarded).check()
    await next_message(telegram, owner, text="Stripe refuses the secret key", after=after)
    await next_message(telegram, owner, text="Payment links cannot be made", after=after)
    health = await ask(telegram, owner, "/health")
    assert health["text"].startswith("2 problems")
    assert "3 failed in a row" in health["text"]


async def test_a_refused_telegram_token_is_queued_and_told_once_the_token_works_again(
    guarded: Service,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    clocks: Clocks,
) -> None:
    """While Telegram refuses the token the outbox cannot send, so the admins cannot be told
    then: the test sees the condition queued for them (once, again after the hour) and counted
    in /metrics as 401s, and the queued warnings delivered once the token works again, then
    the condition resolved, once."""
    shop, database = guarded, guarded.settings.database_path
    owner = telegram.user(ADMIN_ID, "Owner")
    ada = telegram.user(4242, "Ada")
    _, session = await open_order(shop, telegram, stripe_api, ada)
    telegram.token_refused = True
    assert (await stripe_api.pay(session["id"])).status == 200
    # The bot learns of the 401 after the emulator has answered it: wait for the bot's count.
    await until(lambda: shop.watch.facts.telegram_refused_since is not None)
    refused = [
        count
        for (name, labels), count in (await scrape(shop)).items()
        if name == "checkout_bot_telegram_api_errors_total" and ("status", "401") in labels
    ]
    assert sum(refused) >= 1

    (warning,) = await guardian_of(shop).check()
    assert warning.startswith("⚠️ Telegram refuses the bot's token: for ")
    assert "TELEGRAM_BOT_TOKEN" in warning
    assert health_alerts(database) == [warning]
    clocks.shift += HOUR - 60
    assert await guardian_of(shop).check() == []
    clocks.shift += 60
    assert len(await guardian_of(shop).check()) == 1
    assert len(health_alerts(database)) == 2

    after = from_now_on(telegram)
    telegram.token_refused = False
    await next_message(telegram, ada, text="Payment received", after=after)
    await until(lambda: not rows(database, WAITING))
    told = [
        c
        for c in telegram.calls_to("sendMessage")
        if after(c) and c.status == 200 and c.params.get("chat_id") in (ADMIN_ID, str(ADMIN_ID))
    ]
    assert len(told) == 2 and all("Telegram refuses" in c.params["text"] for c in told)
    after = from_now_on(telegram)
    assert len(await guardian_of(shop).check()) == 1
    await next_message(
        telegram, owner, text="Resolved: Telegram refuses the bot's token", after=after
    )
    assert await guardian_of(shop).check() == []
    assert len(health_alerts(database)) == 3


@pytest.mark.parametrize(
    "guarded",
    [GuardLimits(disk_free_bytes=shutil.disk_usage("/").total * 1024)],
    indirect=True,
)
async def test_a_nearly_full_disk_is_told(guarded: Service, telegram: TelegramEmulator) -> None:
    owner = telegram.user(ADMIN_ID, "Owner")
    after = from_now_on(telegram)
    await guardian_of(guarded).check()
    told = await next_message(telegram, owner, text="disk is nearly full", after=after)
    assert "GiB free" in told["text"]


async def test_health_is_for_admins_and_shows_each_condition(
    guarded: Service, telegram: TelegramEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    refused = await ask(telegram, ada, "/health")
    assert "admins" in refused["text"]
    owner = telegram.user(ADMIN_ID, "Owner")
    health = await ask(telegram, owner, "/health")
    assert health["text"].startswith("All is well")
    assert "0 waiting" in health["text"] and "signing secret" in health["text"]
