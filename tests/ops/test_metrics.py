"""GET /metrics: off without METRICS_TOKEN, refused without the token, and counting what
happened: a purchase, a duplicate delivery, a refused request."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable

import pytest

from bot.catalog.model import Catalog
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from tests.helpers import (
    QUICK_RETRIES,
    REPO,
    button_with,
    from_now_on,
    next_message,
    open_card,
    open_order,
    paid_event,
)
from tests.ops.steps import METRICS_TOKEN, exported_series, get_metrics, scrape, value


@pytest.fixture
async def measured_shop(
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    stripe_api: StripeEmulator,
    seconds_per_chat: float,
) -> AsyncIterator[Service]:
    settings = make_settings(metrics_token=METRICS_TOKEN)
    async with Service(
        settings, catalog, outbox_delays=QUICK_RETRIES, seconds_per_chat=seconds_per_chat
    ) as service:
        stripe_api.webhook_url = f"{service.http_url}/stripe/webhook"
        yield service


async def test_metrics_are_not_served_without_a_token_set(shop: Service) -> None:
    status, _ = await get_metrics(shop)
    assert status == 404


@pytest.mark.parametrize("token", [None, "not-the-scrape-token-at-all"])
async def test_metrics_refuse_a_request_without_the_token(
    measured_shop: Service, token: str | None
) -> None:
    status, text = await get_metrics(measured_shop, token)
    assert (status, "METRICS_TOKEN" in text, "checkout_bot" in text) == (401, True, False)


async def test_a_purchase_a_duplicate_and_a_forgery_are_counted(
    measured_shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    shop = measured_shop
    ada = telegram.user(4242, "Ada")
    _, session = await open_order(shop, telegram, stripe_api, ada)
    after = from_now_on(telegram)
    delivery = await stripe_api.pay(session["id"])
    await next_message(telegram, ada, text="Payment received", after=after)
    duplicate = await stripe_api.redeliver(delivery.event["id"])
    forged = await stripe_api.deliver(
        paid_event(stripe_api, session), secret="whsec_not_the_endpoint_secret"
    )
    assert (delivery.status, duplicate.status, forged.status) == (200, 200, 400)

    samples = await scrape(shop)
    webhook = "checkout_bot_stripe_webhook_requests_total"
    completed = "checkout.session.completed"
    assert value(samples, webhook, event_type=completed, result="paid") == 1
    assert value(samples, webhook, event_type=completed, result="duplicate") == 1
    assert value(samples, webhook, event_type="unknown", result="refused") == 1
    assert value(samples, "checkout_bot_stripe_webhook_signature_failures_total") == 1
    assert value(samples, "checkout_bot_checkout_sessions_total", result="created") == 1
    assert value(samples, "checkout_bot_checkout_sessions_total", result="failed") == 0
    assert value(samples, "checkout_bot_stripe_event_to_commit_seconds_count") == 1
    assert value(samples, "checkout_bot_orders", status="paid") == 1
    assert value(samples, "checkout_bot_orders", status="pending") == 0
    assert value(samples, "checkout_bot_outbox_sends_total", result="sent") >= 1
    assert value(samples, "checkout_bot_outbox_waiting_messages") == 0
    create = "POST /v1/checkout/sessions"
    assert (
        value(samples, "checkout_bot_stripe_api_request_duration_seconds_count", operation=create)
        == 1
    )
    assert (
        value(
            samples,
            "checkout_bot_telegram_api_request_duration_seconds_count",
            method="sendMessage",
        )
        >= 1
    )
    # No label holds a buyer, an order or a Stripe id.
    labels = {v for (_, pairs) in samples for _, v in pairs}
    assert not [v for v in labels if str(ada.id) in v or session["id"] in v or "evt_" in v]


async def test_a_link_stripe_refuses_is_counted_as_failed(
    measured_shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4243, "Ada")
    card = await open_card(telegram, ada, "The Forest Hiker")
    stripe_api.api_key = "sk_test_rolled_in_the_dashboard"
    after = from_now_on(telegram)
    await telegram.tap(ada, card, button_with(card, "buy:")["callback_data"])
    await next_message(telegram, ada, after=after)
    samples = await scrape(measured_shop)
    create = "POST /v1/checkout/sessions"
    assert value(samples, "checkout_bot_checkout_sessions_total", result="failed") == 1
    assert value(samples, "checkout_bot_checkout_sessions_total", result="created") == 0
    assert (
        value(samples, "checkout_bot_stripe_api_errors_total", operation=create, status="401") == 1
    )


async def test_the_sample_grafana_dashboard_queries_only_metrics_the_bot_exports(
    measured_shop: Service,
) -> None:
    dashboard = json.loads((REPO / "docs" / "grafana-dashboard.json").read_text())
    (source,) = dashboard["__inputs"]
    assert (source["name"], source["pluginId"]) == ("DS_PROMETHEUS", "prometheus")
    targets = [target for panel in dashboard["panels"] for target in panel["targets"]]
    assert all(
        part["datasource"]["uid"] == "${DS_PROMETHEUS}" for part in [*dashboard["panels"], *targets]
    )
    used = {name for t in targets for name in re.findall(r"\bcheckout_bot_\w+", t["expr"])}
    families = await exported_series(measured_shop)
    assert used - set().union(*families.values()) == set()
    # Every family has a panel (the text format also declares each `_created` as a gauge).
    shown = {family for family, series in families.items() if series & used}
    assert set(families) - shown == {f for f in families if f.endswith("_created")}
