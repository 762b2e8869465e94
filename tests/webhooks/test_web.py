"""The web server's other endpoints: the health check and Telegram's webhook."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from bot.catalog.model import Catalog
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator, TgUser
from tests.databases import execute, fetch
from tests.helpers import (
    QUICK_RETRIES,
    free_port,
    from_now_on,
    next_message,
    raw_post,
    snapshot,
)
from webhooks.app import HEALTH_SECONDS

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


async def request(method: str, url: str, **kwargs: Any) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.request(method, url, **kwargs) as response:
        return response.status, await response.text()


async def test_health_is_ok_while_the_database_answers(shop: Service) -> None:
    status, body = await request("GET", f"{shop.http_url}/healthz")
    assert (status, json.loads(body)["database"]) == (200, "ok")


async def test_ready_only_once_every_part_has_started(
    make_settings: Callable[..., Settings], catalog: Catalog, stripe_api: StripeEmulator
) -> None:
    """The web server is up before the rest (here Stripe is slow to answer the start-up
    check): a balancer must not send webhooks to a replica still starting."""
    stripe_api.hold_requests()
    service = Service(make_settings(), catalog, outbox_delays=QUICK_RETRIES)
    starting = asyncio.ensure_future(service.start())
    try:
        await stripe_api.wait_until_held()
        status, body = await request("GET", f"{service.http_url}/readyz")
        assert (status, json.loads(body)["bot"]) == (503, "starting or stopping")
        assert (await request("GET", f"{service.http_url}/healthz"))[0] == 200
        stripe_api.release_requests()
        await starting
        status, body = await request("GET", f"{service.http_url}/readyz")
        assert (status, json.loads(body)["database"]) == (200, "ok")
    finally:
        stripe_api.release_requests()
        await asyncio.gather(starting, return_exceptions=True)
        await service.stop()


async def test_health_answers_503_at_once_while_the_database_is_busy(shop: Service) -> None:
    """A transaction holding the store (as writes waiting on another process's lock do, 5 s
    each) used to hold /healthz behind it: a balancer saw a hung check, not a busy database."""
    async with shop.storage.transaction() as tx:
        await tx.remember_event("evt_holding_the_store", "checkout.session.completed")
        checked = request("GET", f"{shop.http_url}/healthz")
        status, body = await asyncio.wait_for(checked, timeout=30)
    assert status == 503
    assert json.loads(body)["database"] == f"no answer within {HEALTH_SECONDS:g} s (busy or locked)"
    status, body = await request("GET", f"{shop.http_url}/healthz")
    assert (status, json.loads(body)["database"]) == (200, "ok")


async def test_health_is_503_when_the_database_does_not(shop: Service) -> None:
    await shop.storage.close()
    status, body = await request("GET", f"{shop.http_url}/healthz")
    assert status == 503 and json.loads(body)["status"] == "unavailable"


async def test_polling_mode_has_no_telegram_webhook(shop: Service) -> None:
    status, _ = await request("POST", f"{shop.http_url}/telegram/webhook", json={})
    assert status in (404, 405)


@pytest.mark.parametrize(
    "headers",
    [{}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: "test-webhook-secret_12"}],
    ids=["missing", "wrong", "prefix"],
)
async def test_telegram_webhook_needs_the_secret(
    webhook_shop: Service, telegram: TelegramEmulator, headers: dict[str, str]
) -> None:
    ada = telegram.user(4242, "Ada")
    update = {
        "update_id": 10**6,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": ada.private_chat(),
            "from": ada.as_dict(),
            "text": "/stats",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }
    before = snapshot(webhook_shop.settings.database_path)
    status, _ = await request(
        "POST", f"{webhook_shop.http_url}/telegram/webhook", json=update, headers=headers
    )
    assert status == 403
    assert snapshot(webhook_shop.settings.database_path) == before


@pytest.mark.parametrize(
    "body",
    [
        b"{nope",
        b"[]",
        json.dumps({"message": {}}).encode(),
        json.dumps({"update_id": "1"}).encode(),
        # python-telegram-bot trips on a `message` that is no object (AttributeError).
        json.dumps({"update_id": 1, "message": "hello"}).encode(),
    ],
)
async def test_telegram_webhook_refuses_what_is_not_an_update(
    webhook_shop: Service, body: bytes
) -> None:
    before = snapshot(webhook_shop.settings.database_path)
    status, answer = await request(
        "POST",
        f"{webhook_shop.http_url}/telegram/webhook",
        data=body,
        headers={SECRET_HEADER: "test-webhook-secret_123", "Content-Type": "application/json"},
    )
    assert status == 400 and "error" in json.loads(answer)
    assert snapshot(webhook_shop.settings.database_path) == before


@pytest.mark.parametrize("secret", [b"\xff", "test-webhook-secret_12é".encode()])
async def test_a_secret_header_that_is_not_ascii_is_refused(
    webhook_shop: Service, secret: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    before = snapshot(webhook_shop.settings.database_path)
    header = SECRET_HEADER.encode() + b": " + secret
    status, answer = await raw_post(webhook_shop, "/telegram/webhook", [header], b'{"update_id":1}')
    assert status == 403 and "secret token" in json.loads(answer)["error"]
    assert snapshot(webhook_shop.settings.database_path) == before
    assert not any(r.exc_info for r in caplog.records)


def start_from(user: TgUser, update_id: int) -> dict[str, Any]:
    """The update Telegram posts when the user sends /start."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": user.private_chat(),
            "from": user.as_dict(),
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


TELEGRAM_HEADERS = {SECRET_HEADER: "test-webhook-secret_123"}


async def test_a_telegram_update_delivered_twice_is_handled_once(
    webhook_shop: Service, telegram: TelegramEmulator
) -> None:
    """Telegram posts an update again when it got no answer in time, or after a setWebhook:
    the bot answers the repeat 200 (or Telegram would go on) and does not handle it again."""
    ada, bob = telegram.user(4242, "Ada"), telegram.user(4343, "Bob")
    url = f"{webhook_shop.http_url}/telegram/webhook"
    start = start_from(ada, 10**6)
    after = from_now_on(telegram)
    assert (await request("POST", url, json=start, headers=TELEGRAM_HEADERS))[0] == 200
    await next_message(telegram, ada, after=after)

    assert (await request("POST", url, json=start, headers=TELEGRAM_HEADERS))[0] == 200
    # Bob's /start, queued after the repeat, is answered after the repeat would have been.
    after = from_now_on(telegram)
    await telegram.send_text(bob, "/start")
    await next_message(telegram, bob, after=after)
    assert len(telegram.messages_to(ada.id)) == 1


async def test_an_update_whose_id_cannot_be_recorded_is_answered_503_and_comes_again(
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    telegram: TelegramEmulator,
    postgres_url: str,
) -> None:
    """On PostgreSQL the update's id is recorded before it is handled: while it cannot be,
    Telegram hears 503 (it delivers the update again later) and nothing is handled."""
    port = free_port()
    settings = make_settings(
        database_url=postgres_url,
        telegram_mode="webhook",
        telegram_webhook_secret="test-webhook-secret_123",
        public_base_url=f"http://127.0.0.1:{port}",
        http_port=port,
    )
    async with Service(settings, catalog, outbox_delays=QUICK_RETRIES) as shop:
        ada = telegram.user(4242, "Ada")
        url, start = f"{shop.http_url}/telegram/webhook", start_from(ada, 10**6)
        await execute(postgres_url, "ALTER TABLE telegram_updates RENAME TO telegram_updates_gone")
        status, body = await request("POST", url, json=start, headers=TELEGRAM_HEADERS)
        assert (status, json.loads(body)) == (503, {"error": "database unavailable"})
        assert await fetch(postgres_url, "SELECT * FROM telegram_updates_gone") == []

        await execute(postgres_url, "ALTER TABLE telegram_updates_gone RENAME TO telegram_updates")
        after = from_now_on(telegram)
        assert (await request("POST", url, json=start, headers=TELEGRAM_HEADERS))[0] == 200
        await next_message(telegram, ada, after=after)
        assert len(telegram.messages_to(ada.id)) == 1
