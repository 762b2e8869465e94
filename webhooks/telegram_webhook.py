"""`POST /telegram/webhook`: Telegram updates in webhook mode, fed to the bot's Application."""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from storage import Storage

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class TelegramWebhook:
    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        secret: str,
        storage: Storage,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`clock`: Unix seconds, for how long an update's id is remembered."""
        self._application = application
        self._secret = secret.encode()
        self._storage = storage
        self._clock = clock

    async def handle(self, request: web.Request) -> web.Response:
        """403 without the secret Telegram was given, 400 for a body that is not an update."""
        offered = request.headers.get(SECRET_HEADER, "")
        # A header's bytes that are not text reach here as surrogates, which encode() refuses;
        # the secret is ASCII, so such a header is wrong anyway.
        if not offered.isascii() or not hmac.compare_digest(offered.encode(), self._secret):
            log.warning("refused a Telegram webhook request: wrong or missing secret token")
            return web.json_response({"error": "wrong or missing secret token"}, status=403)
        try:
            payload = json.loads(await request.read())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.json_response({"error": "body is not JSON"}, status=400)
        if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int):
            return web.json_response({"error": "body is not a Telegram update"}, status=400)
        try:
            update = Update.de_json(payload, self._application.bot)
        except Exception as exc:  # PTB raises whatever a wrong shape trips on: AttributeError…
            log.warning("refused a malformed Telegram update: %s", exc)
            return web.json_response({"error": "body is not a Telegram update"}, status=400)
        try:
            new = await self._storage.first_sight_of_update(update.update_id, self._clock())
        except Exception:
            log.exception("cannot tell whether Telegram update %s is a repeat", update.update_id)
            # Telegram delivers it again later, when the database may answer.
            return web.json_response({"error": "database unavailable"}, status=503)
        if not new:
            # Delivered again (a retry, a setWebhook meanwhile): handled already, here or on
            # another replica. Answered 200, so that Telegram stops.
            log.info("Telegram update %s came again; handled once", update.update_id)
            return web.json_response({"ok": True})
        await self._application.update_queue.put(update)
        return web.json_response({"ok": True})
