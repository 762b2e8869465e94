"""Fixtures: the Telegram and Stripe emulators on loopback, and the real shop wired to them."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.catalog.model import Catalog, load_catalog
from bot.outbox.pace import SECONDS_PER_CHAT
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TELEGRAM_LIMITS, TelegramEmulator
from tests.databases import scratch_database
from tests.helpers import ADMIN_ID, QUICK_RETRIES, QUICK_SECONDS_PER_CHAT, REPO, free_port


@pytest.fixture
async def telegram(request: pytest.FixtureRequest) -> AsyncIterator[TelegramEmulator]:
    """The Bot API emulator, without flood limits: a test waits for the bot, not for Telegram's
    pace. A test about pacing is marked `flood_limits`: Telegram's limits, or the RateLimits
    given (`@pytest.mark.flood_limits(RateLimits(...))`)."""
    marker = request.node.get_closest_marker("flood_limits")
    limits = None if marker is None else (marker.args[0] if marker.args else TELEGRAM_LIMITS)
    async with TelegramEmulator(rate_limits=limits) as emulator:
        yield emulator


@pytest.fixture
def seconds_per_chat(request: pytest.FixtureRequest) -> float:
    """The outbox's spacing of a chat's messages for the shop under test: a hundredth of a
    second, as the `telegram` fixture enforces no flood limits; Telegram's real second in a
    test marked `flood_limits`, as that test is about the limits."""
    if request.node.get_closest_marker("flood_limits") is not None:
        return SECONDS_PER_CHAT
    return QUICK_SECONDS_PER_CHAT


@pytest.fixture
async def stripe_api() -> AsyncIterator[StripeEmulator]:
    async with StripeEmulator() as emulator:
        yield emulator


@pytest.fixture
def catalog() -> Catalog:
    return load_catalog(REPO / "catalog.toml")


@pytest.fixture
def make_settings(
    telegram: TelegramEmulator, stripe_api: StripeEmulator, tmp_path: Path
) -> Callable[..., Settings]:
    """Settings pointing at the emulators; every field given, so no .env of the machine leaks in."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "telegram_bot_token": telegram.token,
            "telegram_api_base_url": telegram.base_url,
            "telegram_mode": "polling",
            "telegram_webhook_secret": None,
            "public_base_url": None,
            "stripe_secret_key": stripe_api.api_key,
            "stripe_webhook_secret": stripe_api.webhook_secret,
            "stripe_api_base_url": stripe_api.base_url,
            "database_url": f"sqlite:///{tmp_path / 'data' / 'shop.db'}",
            "catalog_file": REPO / "catalog.toml",
            "admin_ids": frozenset({ADMIN_ID}),
            "http_host": "127.0.0.1",
            "http_port": 0,
            "checkout_expires_minutes": 30,
            "log_level": "INFO",
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture
async def shop(
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    stripe_api: StripeEmulator,
    seconds_per_chat: float,
) -> AsyncIterator[Service]:
    """The shop in polling mode, with Stripe's events sent to its webhook; the outbox retries
    without a real backoff and paces each chat as `seconds_per_chat` says."""
    async with Service(
        make_settings(), catalog, outbox_delays=QUICK_RETRIES, seconds_per_chat=seconds_per_chat
    ) as service:
        stripe_api.webhook_url = f"{service.http_url}/stripe/webhook"
        yield service


@pytest.fixture
async def webhook_shop(
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    stripe_api: StripeEmulator,
    seconds_per_chat: float,
) -> AsyncIterator[Service]:
    """The shop in Telegram webhook mode, paced as `shop` is."""
    port = free_port()
    settings = make_settings(
        telegram_mode="webhook",
        telegram_webhook_secret="test-webhook-secret_123",
        public_base_url=f"http://127.0.0.1:{port}",
        http_port=port,
    )
    async with Service(
        settings, catalog, outbox_delays=QUICK_RETRIES, seconds_per_chat=seconds_per_chat
    ) as service:
        stripe_api.webhook_url = f"{service.http_url}/stripe/webhook"
        yield service


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port of 127.0.0.1 where nobody listens, for the whole test: it is held bound (without
    listening), so connections to it are refused and no test running alongside can take it."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port: int = held.getsockname()[1]
        yield port


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A scratch PostgreSQL database for this test alone (skipped where there is none)."""
    async with scratch_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The DATABASE_URL of an empty store, once for each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'shop.db'}"
        return
    async with scratch_database() as url:
        yield url
