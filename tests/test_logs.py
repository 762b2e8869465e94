"""Secrets never reach the log: in messages, arguments, tracebacks and stacks, short or long."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from pathlib import Path

import pytest

from bot.logs import RedactSecrets
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from tests.helpers import free_port
from tests.processes import finish, run_bot, valid

TOKEN = "123456789:TEST-fake-token"
# As short as TELEGRAM_WEBHOOK_SECRET may be.
SHORT = "Zq7-x_3X"


def test_secrets_are_masked_in_messages_and_arguments(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.redaction")
    logger.addFilter(RedactSecrets([TOKEN, "sk_test_fake_key_for_tests", SHORT]))
    with caplog.at_level(logging.INFO, logger="test.redaction"):
        logger.info("POST https://api.telegram.org/bot%s/getMe", TOKEN)
        logger.info("key sk_test_fake_key_for_tests refused")
        logger.info("setWebhook secret_token=%s", SHORT)
    first, second, third = caplog.messages
    assert TOKEN not in first and first.endswith("/bot1234…[redacted]/getMe")
    assert "sk_test_fake_key_for_tests" not in second
    # A short secret keeps none of its characters: four of eight would give half of it away.
    assert third == "setWebhook secret_token=[redacted]"


def test_a_secret_in_a_traceback_or_a_stack_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.redaction.traceback")
    logger.addFilter(RedactSecrets([TOKEN, SHORT]))
    with caplog.at_level(logging.INFO, logger="test.redaction.traceback"):
        try:
            raise ConnectionError(f"cannot reach https://api.telegram.org/bot{TOKEN}/getUpdates")
        except ConnectionError:
            logger.exception("polling failed")
        # The stack shows this line of source, secret and all.
        logger.info("asked with Zq7-x_3X", stack_info=True)
    assert "ConnectionError: cannot reach" in caplog.text
    assert "Stack (most recent call last)" in caplog.text
    assert TOKEN not in caplog.text and SHORT not in caplog.text


async def test_a_short_webhook_secret_never_reaches_the_log(
    tmp_path: Path, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """With LOG_LEVEL=DEBUG, python-telegram-bot logs setWebhook's parameters, secret_token
    among them, in clear."""
    port = free_port()
    env = valid(
        tmp_path,
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        TELEGRAM_MODE="webhook",
        TELEGRAM_WEBHOOK_SECRET=SHORT,
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        STRIPE_SECRET_KEY=stripe_api.api_key,
        STRIPE_WEBHOOK_SECRET=stripe_api.webhook_secret,
        STRIPE_API_BASE_URL=stripe_api.base_url,
        HTTP_HOST="127.0.0.1",
        HTTP_PORT=str(port),
        LOG_LEVEL="DEBUG",
    )
    process = await run_bot(env, tmp_path)
    await telegram.wait_for("setMyCommands", timeout=20)  # the last step of start-up
    process.send_signal(signal.SIGTERM)
    code, stderr = await finish(process)

    assert code == 0, stderr
    assert "setWebhook" in stderr  # the call that carries the secret was logged
    assert SHORT not in stderr


async def test_a_webhook_secret_too_short_to_mask_stops_start_up(tmp_path: Path) -> None:
    """Telegram takes 1 character; masking one (or a few) would blank ordinary words in every
    line and show the secret by what is missing."""
    env = valid(
        tmp_path,
        TELEGRAM_MODE="webhook",
        TELEGRAM_WEBHOOK_SECRET="Zq7",
        PUBLIC_BASE_URL="https://shop.example.com",
    )
    code, stderr = await finish(await run_bot(env, tmp_path))
    assert code == 2
    assert stderr.strip().splitlines() == [
        "checkout-bot: configuration error: TELEGRAM_WEBHOOK_SECRET:"
        " 8 to 256 characters of A-Z a-z 0-9 _ -"
    ]


class GarbledBotApi:
    """A Bot API server (a self-hosted one, or a proxy in front of Telegram) that answers every
    method, but the first two getUpdates with bytes that are not HTTP: aiohttp's
    ClientResponseError then names the request's URL, and that URL holds the bot token."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.garbled = 0
        # Long polls find nothing and are held until the test lets them go.
        self.release = asyncio.Event()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> GarbledBotApi:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/bot"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method = lines[0].split(" ")[1].rsplit("/", 1)[-1]
                length = next(
                    (
                        int(line.split(":", 1)[1])
                        for line in lines
                        if line.lower().startswith("content-length:")
                    ),
                    0,
                )
                await reader.readexactly(length)
                if method == "getUpdates" and self.garbled < 2:
                    self.garbled += 1
                    writer.write(b"NOT HTTP AT ALL\r\n\r\n")
                    await writer.drain()
                    writer.close()
                    return
                if method == "getUpdates":
                    await self.release.wait()
                    result: object = []
                elif method == "getMe":
                    result = {
                        "id": int(self.token.split(":")[0]),
                        "is_bot": True,
                        "first_name": "Shop",
                        "username": "shop_bot",
                        "can_join_groups": True,
                        "can_read_all_group_messages": False,
                        "supports_inline_queries": False,
                    }
                elif method == "getWebhookInfo":  # polling starts only without a webhook
                    result = {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
                else:
                    result = True
                body = json.dumps({"ok": True, "result": result}).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


async def test_a_secret_in_a_logged_traceback_is_masked_too(
    tmp_path: Path, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """python-telegram-bot logs a failed poll with its traceback, at the default LOG_LEVEL;
    the traceback names the failed request's URL, which holds the bot token."""
    token = telegram.token
    async with GarbledBotApi(token) as bot_api:
        env = valid(
            tmp_path,
            TELEGRAM_BOT_TOKEN=token,
            TELEGRAM_API_BASE_URL=bot_api.base_url,
            STRIPE_SECRET_KEY=stripe_api.api_key,
            STRIPE_WEBHOOK_SECRET=stripe_api.webhook_secret,
            STRIPE_API_BASE_URL=stripe_api.base_url,
            HTTP_HOST="127.0.0.1",
            HTTP_PORT="0",  # any free port: nobody connects to it
        )
        process = await run_bot(env, tmp_path)
        assert process.stderr is not None
        # PTB logs each failed poll before it polls again: wait for the second failure's line.
        seen = b""
        while seen.count(b"Exception happened while polling") < 2:
            line = await asyncio.wait_for(process.stderr.readline(), timeout=30)
            assert line, seen.decode()
            seen += line
        bot_api.release.set()
        process.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(process.stderr.read(), timeout=30)
        await process.wait()
    stderr = (seen + rest).decode()

    assert "aiohttp.ClientResponseError" in stderr  # the failure was logged, with its cause
    assert token not in stderr
