"""Sale alerts: /alerts on|off, and what the outbox tells the admins who turned them on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from babel import Locale

from bot.catalog.model import Catalog
from bot.money import Money
from bot.references import reference_for
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from tests.admin.steps import pay_for
from tests.helpers import (
    ADMIN_ID,
    ask,
    from_now_on,
    next_message,
    paid_event,
    rows,
    session_behind,
    tap_product,
)

OTHER_ADMIN = 900_002
FORMER_ADMIN = 900_003


@pytest.fixture
async def two_admins_shop(
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    stripe_api: StripeEmulator,
    seconds_per_chat: float,
) -> AsyncIterator[Service]:
    settings = make_settings(admin_ids=frozenset({ADMIN_ID, OTHER_ADMIN}))
    async with Service(settings, catalog, seconds_per_chat=seconds_per_chat) as service:
        stripe_api.webhook_url = f"{service.http_url}/stripe/webhook"
        yield service


async def test_alerts_on_and_off_are_remembered(shop: Service, telegram: TelegramEmulator) -> None:
    owner = telegram.user(ADMIN_ID, "Owner")
    assert (await ask(telegram, owner, "/alerts"))["text"].startswith("Sale alerts are off.")
    assert (await ask(telegram, owner, "/alerts on"))["text"].startswith("Sale alerts on")
    assert await shop.storage.alerts_enabled(ADMIN_ID)
    assert (await ask(telegram, owner, "/alerts"))["text"].startswith("Sale alerts are on.")
    wrong = await ask(telegram, owner, "/alerts maybe")
    assert wrong["text"] == "Sale alerts are on. Usage: /alerts on|off"
    assert await shop.storage.alerts_enabled(ADMIN_ID)
    assert (await ask(telegram, owner, "/alerts OFF"))["text"] == "Sale alerts off."
    assert not await shop.storage.alerts_enabled(ADMIN_ID)


async def test_admins_with_alerts_on_hear_of_sales_refunds_failures_and_flags(
    two_admins_shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """Real events through the webhook: a sale, a refund from Stripe's dashboard, a failed
    bank debit and a payment that does not match its order."""
    shop = two_admins_shop
    owner = telegram.user(ADMIN_ID, "Owner", language_code="fr")
    partner = telegram.user(OTHER_ADMIN, "Partner")  # alerts off
    former = telegram.user(FORMER_ADMIN, "Former")  # turned alerts on, then left ADMIN_IDS
    await shop.storage.set_alerts(FORMER_ADMIN, True)
    await ask(telegram, owner, "/alerts on")
    after = from_now_on(telegram)

    sold = await pay_for(telegram, stripe_api, 1, "The Forest Hiker")
    await stripe_api.refund(sold["payment_intent"], 10000)
    debit = session_behind(
        stripe_api, await tap_product(telegram, telegram.user(2, "Buyer 2"), "Trail map")
    )
    await stripe_api.complete_unpaid(debit["id"])
    await stripe_api.async_payment_failed(debit["id"])
    odd = session_behind(
        stripe_api, await tap_product(telegram, telegram.user(3, "Buyer 3"), "Trail map")
    )
    await stripe_api.deliver(paid_event(stripe_api, odd, amount_total=100))

    orders = {
        row["telegram_user_id"]: row["id"]
        for row in rows(shop.settings.database_path, "SELECT id, telegram_user_id FROM orders")
    }
    french = Locale("fr")
    hiker = Money(39700, "usd").format(french)
    expected = {
        "💰 Sale": [reference_for(orders[1]), "The Forest Hiker × 1", hiker, "Buyer 1 @buyer1"],
        "↩️ Refund": [
            reference_for(orders[1]),
            f"{Money(10000, 'usd').format(french)} on",
            f"of {hiker} refunded in all",
        ],
        "❌ Payment failed": [reference_for(orders[2]), "the delayed payment failed"],
        "⚠️ Order": [reference_for(orders[3]), "paid 100 usd", f"/order {reference_for(orders[3])}"],
    }
    for start, parts in expected.items():
        message = await next_message(telegram, owner, text=start, after=after)
        for part in parts:
            assert part in message["text"], (start, part)
    # A flagged payment reaches every admin, alerts or not; nothing else reaches the partner.
    flagged = await next_message(telegram, partner, text="⚠️ Order", after=after)
    assert reference_for(orders[3]) in flagged["text"]
    await two_admins_shop.stop()  # what else was queued has had its chance
    queued = rows(
        shop.settings.database_path, "SELECT kind FROM outbox WHERE chat_id = ?", OTHER_ADMIN
    )
    assert queued == [{"kind": "alert_flagged"}]
    assert telegram.messages_to(former.id) == []
    assert not rows(
        shop.settings.database_path, "SELECT id FROM outbox WHERE chat_id = ?", FORMER_ADMIN
    )
