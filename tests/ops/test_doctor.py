"""`checkout-bot doctor` against the emulators: every ✓ on a shop set up right, and a ✗ with
what to do for each thing set up wrong; never a secret in what it prints."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

import stripe

from bot.ops.doctor import diagnose, report
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from tests.processes import valid

ALL_EVENTS = [
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "charge.refunded",
    "refund.created",
    "refund.updated",
    "refund.failed",
]


def secrets_of(settings: Settings) -> list[str]:
    values = [settings.telegram_bot_token, settings.stripe_secret_key]
    values += [settings.stripe_webhook_secret, settings.telegram_webhook_secret]
    return [value.get_secret_value() for value in values if value is not None]


async def test_a_shop_set_up_right_passes_every_check(
    webhook_shop: Service, stripe_api: StripeEmulator
) -> None:
    settings = webhook_shop.settings
    assert settings.public_base_url is not None
    stripe_api.add_webhook_endpoint(
        f"{settings.public_base_url}/stripe/webhook", ALL_EVENTS, api_version=stripe.api_version
    )
    checks = await diagnose(settings)
    assert [check.line() for check in checks if not check.ok] == []
    lines = report(settings, checks)
    text = "\n".join(lines)
    assert "@checkout_test_bot" in text and "test mode" in text
    assert "answers 200" in text and "updates waiting" in text
    assert not [secret for secret in secrets_of(settings) if secret in text]


async def test_each_mistake_gets_a_cross_and_what_to_do(
    make_settings: Callable[..., Settings],
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    closed_port: int,
) -> None:
    public = f"http://127.0.0.1:{closed_port}"
    stripe_api.add_webhook_endpoint(
        f"{public}/stripe/webhook", ALL_EVENTS[:2], status="disabled", api_version="2024-06-20"
    )
    settings = make_settings(public_base_url=public)
    failed = [check.text for check in await diagnose(settings) if not check.ok]
    assert failed[0] == "it is disabled: enable it in the dashboard"
    assert failed[1].startswith("it does not send ") and "refund.failed" in failed[1]
    assert "checkout.session.completed" not in failed[1]
    assert "stripe-python pins" in failed[2]
    assert failed[3].endswith("does not answer (ClientConnectorError): is the bot running?")
    assert len(failed) == 4


async def test_no_endpoint_a_refused_token_and_a_refused_key(
    make_settings: Callable[..., Settings],
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
) -> None:
    settings = make_settings(public_base_url="https://shop.example")
    failed = [check.text for check in await diagnose(settings) if not check.ok]
    assert failed[0].startswith("no webhook endpoint at Stripe points to https://shop.example/")
    telegram.token = "123456789:TEST-rolled-by-botfather"
    stripe_api.api_key = "sk_test_rolled_in_the_dashboard"
    lines = report(settings, await diagnose(settings))
    assert lines[0] == "✗ Telegram refuses TELEGRAM_BOT_TOKEN: copy it again from @BotFather"
    assert lines[1].startswith("✗ Stripe refuses STRIPE_SECRET_KEY")


async def test_telegrams_last_webhook_error_is_shown(
    webhook_shop: Service, telegram: TelegramEmulator
) -> None:
    settings = webhook_shop.settings
    wrong = "http://127.0.0.1:9/telegram/webhook"
    await webhook_shop.application.bot.set_webhook(wrong)
    ada = telegram.user(4242, "Ada")
    await telegram.send_text(ada, "/start")
    await telegram.wait_until(lambda: bool(telegram.webhook_deliveries), timeout=5)
    failed = [check.text for check in await diagnose(settings) if not check.ok]
    assert failed[0].startswith("Telegram sends updates to http://127.0.0.1:9/telegram/webhook")
    assert failed[1].startswith("Telegram's last delivery failed at ")


async def test_the_subcommand_prints_a_line_per_check_and_fails_on_a_cross(
    telegram: TelegramEmulator, stripe_api: StripeEmulator, tmp_path: Path
) -> None:
    env = valid(
        tmp_path,
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        STRIPE_SECRET_KEY=stripe_api.api_key,
        STRIPE_API_BASE_URL=stripe_api.base_url,
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "doctor", cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE
    )
    stdout, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    lines = stdout.decode().splitlines()
    assert process.returncode == 1
    assert lines[0] == "✓ Telegram accepts the token: the bot is @checkout_test_bot"
    assert lines[2].startswith("✗ PUBLIC_BASE_URL is not set")
    assert all(line[0] in "✓✗·" for line in lines)
    assert not [
        secret for secret in (telegram.token, stripe_api.api_key) if secret in stdout.decode()
    ]
