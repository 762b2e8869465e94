"""The demo's Settings: built from the emulators alone, never from the environment or `.env`."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator

LOOPBACK = "127.0.0.1"


class DemoSettings(Settings):
    """Settings that read only what they are given: a real token in the environment must never
    point the demo at Telegram or Stripe."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def demo_settings(
    telegram: TelegramEmulator,
    stripe: StripeEmulator,
    *,
    database_url: str,
    catalog_file: Path,
    admin_id: int,
) -> Settings:
    """The shop's settings for the emulators: loopback only, the web server on any free port
    (Stripe's emulator is told where it is once it listens)."""
    return DemoSettings(
        telegram_bot_token=SecretStr(telegram.token),
        telegram_api_base_url=telegram.base_url,
        stripe_secret_key=SecretStr(stripe.api_key),
        stripe_webhook_secret=SecretStr(stripe.webhook_secret),
        stripe_api_base_url=stripe.base_url,
        database_url=database_url,
        catalog_file=catalog_file,
        admin_ids=frozenset({admin_id}),
        http_host=LOOPBACK,
        http_port=0,
    )
