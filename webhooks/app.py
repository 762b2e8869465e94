"""The aiohttp application: Stripe's webhook, Telegram's webhook, and the health check."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web

from storage import Storage, StorageError
from webhooks.server_limits import HTTP_LIMITS, with_body_deadline
from webhooks.stripe_webhook import StripeWebhook
from webhooks.telegram_webhook import TelegramWebhook

MAX_BODY_BYTES = 1024 * 1024
# A balancer's health check must hear back fast: a database that takes longer is as good as
# down for it, and /healthz must not queue for seconds behind writes waiting on a lock.
HEALTH_SECONDS = 1.0


def create_web_app(
    *,
    storage: Storage,
    stripe_webhook: StripeWebhook,
    telegram_webhook: TelegramWebhook | None = None,
    body_seconds: float = HTTP_LIMITS.body_seconds,
    is_ready: Callable[[], bool] = lambda: True,
) -> web.Application:
    """The routes of the README's endpoint table; Telegram's only in webhook mode. A body not
    in within `body_seconds` is answered 408 (the routes that read one)."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)

    async def healthz(request: web.Request) -> web.Response:
        """200 while the database answers within HEALTH_SECONDS, 503 saying why when not."""
        try:
            await asyncio.wait_for(storage.ping(), HEALTH_SECONDS)
        except TimeoutError:
            slow = f"no answer within {HEALTH_SECONDS:g} s (busy or locked)"
            return web.json_response({"status": "unavailable", "database": slow}, status=503)
        except StorageError:
            return web.json_response({"status": "unavailable", "database": "error"}, status=503)
        return web.json_response({"status": "ok", "database": "ok"})

    app.router.add_post("/stripe/webhook", with_body_deadline(stripe_webhook.handle, body_seconds))
    if telegram_webhook is not None:
        telegram = with_body_deadline(telegram_webhook.handle, body_seconds)
        app.router.add_post("/telegram/webhook", telegram)

    async def readyz(request: web.Request) -> web.Response:
        """200 once the bot has started on a migrated database that answers; 503 while it is
        still starting or already stopping (a balancer sends it nothing then), or as /healthz."""
        if not is_ready():
            starting = {"status": "unavailable", "bot": "starting or stopping"}
            return web.json_response(starting, status=503)
        return await healthz(request)

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app
