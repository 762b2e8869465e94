"""Sale alerts: /alerts on|off, and what the outbox tells the admins who turned them on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from babel import Locale

from bot.catalog import Catalog
from bot.money import Money
from bot.references import reference_for
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from storage import MessageKind
from tests.conftest import ADMIN_ID
from tests.helpers import from_now_on, next_message, rows
from tests.test_admin import ask, pay_for

OTHER_ADMIN = 900_002


@pytest.fixture
async def two_admins_shop(
    make_settings: Callable[..., Settings], catalog: Catalog, stripe_api: StripeEmulator
) -> AsyncIterator[Service]:
    settings = make_settings(admin_ids=frozenset({ADMIN_ID, OTHER_ADMIN}))
    async with Service(settings, catalog) as service:
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
    shop = two_admins_shop
    owner = telegram.user(ADMIN_ID, "Owner", language_code="fr")
    telegram.user(OTHER_ADMIN, "Partner")  # alerts off
    await ask(telegram, owner, "/alerts on")
    await pay_for(telegram, stripe_api, 1, "The Forest Hiker")
    (order_row,) = rows(shop.settings.database_path, "SELECT id FROM orders")
    order = await shop.storage.get_order(order_row["id"])
    assert order is not None
    refund = order.amount_total // 4
    async with shop.storage.transaction() as tx:
        await tx.update(order.id, amount_refunded=refund, failure_reason="card_declined")
        await tx.update(order.id, flag="paid 1.00 USD less than the price")
        for kind, detail in (
            (MessageKind.ALERT_PAID, None),
            (MessageKind.ALERT_REFUNDED, str(refund)),
            (MessageKind.ALERT_FAILED, None),
            (MessageKind.ALERT_FLAGGED, None),
        ):
            await tx.enqueue_alerts(kind, order.id, detail)
    # The next payment wakes the outbox sender, which sends everything that is due.
    after = from_now_on(telegram)
    await pay_for(telegram, stripe_api, 2, "Trail map")

    french = Locale("fr")
    reference = reference_for(order.id)
    total = Money(order.amount_total, order.currency).format(french)
    expected = {
        "💰 Sale": [reference, "The Forest Hiker × 1", total, "Buyer 1 @buyer1"],
        "↩️ Refund": [
            reference,
            f"{Money(refund, order.currency).format(french)} on",
            f"of {total} refunded in all",
        ],
        "❌ Payment failed": [reference, total, "card_declined"],
        "⚠️ Order": [reference, "paid 1.00 USD less than the price", f"/order {reference}"],
    }
    for start, parts in expected.items():
        message = await next_message(telegram, owner, text=start, after=after)
        assert message["text"].startswith(start)
        for part in parts:
            assert part in message["text"], (start, part)
    assert telegram.messages_to(OTHER_ADMIN) == []
