"""`checkout-bot doctor`: the settings checked against the real services, a line per check (✓,
or ✗ with what to do), and a non-zero exit on any ✗. It prints no secret."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import stripe
from pydantic import SecretStr
from telegram import Bot
from telegram.error import InvalidToken, TelegramError

from bot.catalog.from_stripe import stripe_loader
from bot.catalog.model import CatalogError, load_catalog
from bot.logs import RedactSecrets
from bot.settings import CatalogSource, ConfigurationError, Settings, TelegramMode, load_settings
from bot.telegram_http import AiohttpRequest
from storage import database_problems, postgres_problems
from webhooks.fulfilment import SESSION_EVENTS
from webhooks.refunds import CHARGE_EVENTS, REFUND_EVENTS

NEEDED_EVENTS = sorted(SESSION_EVENTS | CHARGE_EVENTS | REFUND_EVENTS)
TIMEOUT_SECONDS = 10.0
# Updates Telegram holds for the webhook beyond which they are piling up, not in flight.
PENDING_UPDATES_LIMIT = 100
SECRET_NOTE = (
    "· STRIPE_WEBHOOK_SECRET cannot be read back from Stripe: send a test event from the"
    " endpoint's page in the dashboard; a 400 'no signature matches' in the bot's log means it"
    " is wrong (the guardian also tells the admins)."
)


@dataclass(frozen=True, slots=True)
class Check:
    ok: bool
    text: str

    def line(self) -> str:
        return f"{'✓' if self.ok else '✗'} {self.text}"


async def diagnose(settings: Settings) -> list[Check]:
    """Every check, in the order printed."""
    checks = await _telegram(settings)
    checks += await _stripe(settings)
    checks.append(await _catalog(settings))
    path = settings.database_path
    problems = (
        database_problems(path)
        if path is not None
        else await postgres_problems(settings.database_url)
    )
    checks.append(Check(not problems, "; ".join(problems) or "the database opens and is migrated"))
    checks.append(await _healthz(settings))
    return checks


def report(settings: Settings, checks: list[Check]) -> list[str]:
    """The lines to print, every secret of the settings masked in case a service echoed one."""
    masking = RedactSecrets(_secrets(settings))
    return [masking.redact(line) for line in [*(c.line() for c in checks), SECRET_NOTE]]


def main(write: Callable[[str], object] = print) -> int:
    """The subcommand: 0 when every check passed, 1 when one failed, 2 on bad settings."""
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        write(f"✗ {exc}")
        return 2
    checks = asyncio.run(diagnose(settings))
    for line in report(settings, checks):
        write(line)
    return 0 if all(check.ok for check in checks) else 1


def _secrets(settings: Settings) -> list[str]:
    values: list[SecretStr | None] = [settings.telegram_bot_token, settings.stripe_secret_key]
    values += [settings.stripe_webhook_secret, settings.telegram_webhook_secret]
    values.append(settings.metrics_token)
    return [value.get_secret_value() for value in values if value is not None]


async def _telegram(settings: Settings) -> list[Check]:
    base = settings.telegram_api_base_url
    bot = Bot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=base,
        request=AiohttpRequest(connections=1),
    )
    try:
        await bot.initialize()  # getMe
    except InvalidToken:
        return [Check(False, "Telegram refuses TELEGRAM_BOT_TOKEN: copy it again from @BotFather")]
    except TelegramError as exc:
        return [Check(False, f"Telegram cannot be reached at {base}: {exc}")]
    try:
        checks = [Check(True, f"Telegram accepts the token: the bot is @{bot.username}")]
        if settings.telegram_mode is TelegramMode.WEBHOOK:
            checks += await _telegram_webhook(bot, settings)
        return checks
    finally:
        await bot.shutdown()


async def _telegram_webhook(bot: Bot, settings: Settings) -> list[Check]:
    assert settings.public_base_url is not None
    expected = settings.public_base_url.rstrip("/") + "/telegram/webhook"
    info = await bot.get_webhook_info()
    checks = [
        Check(
            info.url == expected,
            f"Telegram sends updates to {expected}"
            if info.url == expected
            else f"Telegram sends updates to {info.url or 'no webhook'}, not {expected}:"
            " the bot sets it when it starts; start it, or check PUBLIC_BASE_URL",
        ),
        Check(
            info.pending_update_count < PENDING_UPDATES_LIMIT,
            f"{info.pending_update_count} updates waiting at Telegram"
            + ("" if info.pending_update_count < PENDING_UPDATES_LIMIT else ": they pile up"),
        ),
    ]
    if info.last_error_message:
        when = f" at {info.last_error_date:%Y-%m-%d %H:%M} UTC" if info.last_error_date else ""
        checks.append(
            Check(
                False,
                f"Telegram's last delivery failed{when}: {info.last_error_message}"
                " (is PUBLIC_BASE_URL reachable from the internet?)",
            )
        )
    return checks


async def _stripe(settings: Settings) -> list[Check]:
    http = stripe.AIOHTTPClient(timeout=TIMEOUT_SECONDS)
    client = stripe.StripeClient(
        settings.stripe_secret_key.get_secret_value(),
        base_addresses={"api": settings.stripe_api_base_url},
        http_client=http,
    )
    try:
        endpoints = await client.v1.webhook_endpoints.list_async({"limit": 100})
    except stripe.AuthenticationError:
        return [
            Check(False, "Stripe refuses STRIPE_SECRET_KEY: copy it from Developers → API keys")
        ]
    except stripe.PermissionError:
        return [
            Check(
                False,
                "the key may not read webhook endpoints: give the restricted key"
                " 'Webhook Endpoints: Read', or check the endpoint in the dashboard",
            )
        ]
    except stripe.StripeError as exc:
        return [Check(False, f"Stripe cannot be reached at {settings.stripe_api_base_url}: {exc}")]
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]  # untyped in stripe-python
    live = "_live_" in settings.stripe_secret_key.get_secret_value()
    mode = "live mode: real payments" if live else "test mode: no real payment"
    return [Check(True, f"Stripe accepts the key ({mode})"), *_endpoint(settings, endpoints.data)]


def _endpoint(settings: Settings, endpoints: list[stripe.WebhookEndpoint]) -> list[Check]:
    if settings.public_base_url is None:
        return [
            Check(
                False,
                "PUBLIC_BASE_URL is not set: set it to this server's public address, so that"
                " the doctor can check Stripe's endpoint and /healthz",
            )
        ]
    expected = settings.public_base_url.rstrip("/") + "/stripe/webhook"
    found = [endpoint for endpoint in endpoints if endpoint.url == expected]
    if not found:
        return [
            Check(
                False,
                f"no webhook endpoint at Stripe points to {expected}: add one in Developers →"
                f" Webhooks, with the events {', '.join(NEEDED_EVENTS)}",
            )
        ]
    endpoint = found[0]
    enabled = endpoint.status == "enabled"
    events = set(endpoint.enabled_events)
    missing = [] if "*" in events else [name for name in NEEDED_EVENTS if name not in events]
    version = endpoint.api_version
    return [
        Check(True, f"Stripe's webhook endpoint {endpoint.id} points to {expected}"),
        Check(
            enabled,
            "it is enabled" if enabled else f"it is {endpoint.status}: enable it in the dashboard",
        ),
        Check(
            not missing,
            "it sends every event the bot needs"
            if not missing
            else f"it does not send {', '.join(missing)}: add them to the endpoint",
        ),
        Check(
            version == stripe.api_version,
            f"its API version is {version}, stripe-python's"
            if version == stripe.api_version
            else f"its API version is {version or 'the account default'}, stripe-python pins"
            f" {stripe.api_version}: make a new endpoint with that version",
        ),
    ]


async def _catalog(settings: Settings) -> Check:
    try:
        if settings.catalog_source is CatalogSource.FILE:
            catalog = load_catalog(settings.catalog_file)
        else:
            assert settings.shop_name is not None
            http = stripe.AIOHTTPClient(timeout=TIMEOUT_SECONDS)
            client = stripe.StripeClient(
                settings.stripe_secret_key.get_secret_value(),
                base_addresses={"api": settings.stripe_api_base_url},
                http_client=http,
            )
            try:
                loader = stripe_loader(
                    client,
                    shop_name=settings.shop_name,
                    api_base_url=settings.stripe_api_base_url,
                )
                catalog = await loader()
            finally:
                await http.close_async()  # type: ignore[no-untyped-call]
    except (CatalogError, stripe.StripeError) as exc:
        return Check(False, f"the catalog does not load: {exc}")
    return Check(True, f"the catalog loads: {len(catalog.on_sale())} products on sale")


async def _healthz(settings: Settings) -> Check:
    if settings.public_base_url is None:
        return Check(False, "PUBLIC_BASE_URL is not set: /healthz cannot be checked from outside")
    url = settings.public_base_url.rstrip("/") + "/healthz"
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as http, http.get(url) as response:
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Check(False, f"{url} does not answer ({type(exc).__name__}): is the bot running?")
    if status != 200:
        return Check(False, f"{url} answers {status}: the bot's database does not answer")
    return Check(True, f"{url} answers 200")
