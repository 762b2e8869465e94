"""The one typed configuration object, read from the environment (and `.env`) at start-up."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from storage import sqlite_path, url_problem

STRIPE_KEY_PATTERN = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9_]+$")
# Telegram's rule for secret_token in setWebhook is 1 to 256 of these. Fewer than 8 would be
# guessable, and the shortest could not be masked in the log without blanking ordinary words.
WEBHOOK_SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,256}$")
# Long enough not to be guessed, and to be masked in the log; characters a header carries as-is.
METRICS_TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_.~-]{16,256}$")
BOT_TOKEN_PATTERN = re.compile(r"^[0-9]+:[A-Za-z0-9_-]+$")
# Telegram's user ids have at most 52 significant bits (Bot API, User.id).
MOST_USER_ID = 2**52 - 1
# Below one message every 100 seconds the cap is no longer a rate but a stop.
LEAST_MESSAGES_PER_SECOND = 0.01


class TelegramMode(StrEnum):
    POLLING = "polling"
    WEBHOOK = "webhook"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


class CatalogSource(StrEnum):
    FILE = "file"
    STRIPE = "stripe"


class Settings(BaseSettings):
    """Everything the process needs to know, named as in the README's settings table."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        frozen=True,
    )

    telegram_bot_token: SecretStr
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_mode: TelegramMode = TelegramMode.POLLING
    telegram_webhook_secret: SecretStr | None = None
    public_base_url: str | None = None
    # The bot's own cap on messages to Telegram per second, all chats together (Telegram's
    # limit is about 30); 0 turns it off, for a self-hosted Bot API server or a load test.
    # Fractions work: 0.5 is one message every 2 seconds. Answers and the outbox's messages
    # alike: python-telegram-bot's rate limiter and the outbox's pace (bot/service.py).
    telegram_messages_per_second: float = Field(default=30, ge=0, le=1000)
    # How long a replica's claim on an outbox message lasts unless it renews it: a replica
    # killed with messages in hand has them sent by the others this long after.
    outbox_lease_seconds: float = Field(default=30, ge=1, le=3600)

    stripe_secret_key: SecretStr
    stripe_webhook_secret: SecretStr
    stripe_api_base_url: str = "https://api.stripe.com"

    database_url: str = "sqlite:///data/shop.db"
    # PostgreSQL's connections per process at most (each replica has its own pool; the
    # server's max_connections must hold them all). Unused with SQLite.
    database_pool_size: int = Field(default=10, ge=1, le=1000)
    catalog_source: CatalogSource = CatalogSource.FILE
    catalog_file: Path = Path("catalog.toml")
    # The greeting's shop name when the catalog comes from Stripe (the file has its own).
    shop_name: str | None = None
    # Shown by /help; overrides the catalog's [shop] support.
    support_contact: str | None = None
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()

    http_host: str = "0.0.0.0"
    http_port: int = Field(default=8080, ge=0, le=65535)

    checkout_expires_minutes: int = Field(default=30, ge=30, le=1440)
    shop_timezone: str = "UTC"
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.TEXT
    # GET /metrics answers only with `Authorization: Bearer <this>`; unset, it is not served.
    metrics_token: SecretStr | None = None

    @field_validator("telegram_bot_token")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr) -> SecretStr:
        if not BOT_TOKEN_PATTERN.match(value.get_secret_value()):
            raise ValueError("expected the form 123456789:ABC-token from @BotFather")
        return value

    @field_validator("stripe_secret_key")
    @classmethod
    def _stripe_key_shape(cls, value: SecretStr) -> SecretStr:
        if not STRIPE_KEY_PATTERN.match(value.get_secret_value()):
            raise ValueError("expected a secret key sk_test_…/sk_live_… or restricted key rk_…")
        return value

    @field_validator("stripe_webhook_secret")
    @classmethod
    def _webhook_secret_shape(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("whsec_"):
            raise ValueError("expected the endpoint's signing secret, whsec_…")
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _telegram_secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not WEBHOOK_SECRET_PATTERN.match(value.get_secret_value()):
            raise ValueError("8 to 256 characters of A-Z a-z 0-9 _ -")
        return value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not METRICS_TOKEN_PATTERN.match(value.get_secret_value()):
            raise ValueError("16 to 256 characters of A-Z a-z 0-9 _ - . ~")
        return value

    @field_validator("telegram_api_base_url", "stripe_api_base_url", "public_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        problem = url_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _comma_separated_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            if not all(part.isdecimal() for part in parts):
                raise ValueError("expected Telegram user ids separated by commas, e.g. 123,456")
            return frozenset(int(part) for part in parts)
        return value

    @field_validator("admin_ids")
    @classmethod
    def _telegram_user_ids(cls, value: frozenset[int]) -> frozenset[int]:
        # Checked here, not at the first query: SQLite's integers stop at 2**63 - 1, and an id
        # past them would fail start-up (or a Stripe webhook) with a traceback.
        if not all(1 <= user_id <= MOST_USER_ID for user_id in value):
            raise ValueError(f"a Telegram user id is a whole number from 1 to {MOST_USER_ID}")
        return value

    @field_validator("telegram_messages_per_second")
    @classmethod
    def _a_rate_or_off(cls, value: float) -> float:
        if 0 < value < LEAST_MESSAGES_PER_SECOND:
            raise ValueError(f"expected 0 (no cap) or from {LEAST_MESSAGES_PER_SECOND} to 1000")
        return value

    @field_validator("shop_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        # A folder of zones ("America") is an OSError, not a missing zone.
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError("expected an IANA time zone such as Europe/Paris or UTC") from None
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @model_validator(mode="after")
    def _webhook_mode_needs_url_and_secret(self) -> Settings:
        if self.telegram_mode is TelegramMode.WEBHOOK:
            if self.public_base_url is None:
                raise ValueError("PUBLIC_BASE_URL is required when TELEGRAM_MODE=webhook")
            if self.telegram_webhook_secret is None:
                raise ValueError("TELEGRAM_WEBHOOK_SECRET is required when TELEGRAM_MODE=webhook")
        return self

    @model_validator(mode="after")
    def _stripe_catalog_needs_a_shop_name(self) -> Settings:
        if self.catalog_source is CatalogSource.STRIPE and not (self.shop_name or "").strip():
            raise ValueError("SHOP_NAME is required when CATALOG_SOURCE=stripe")
        return self

    @property
    def timezone(self) -> ZoneInfo:
        """The shop's time zone: what "today" means in the admins' figures."""
        return ZoneInfo(self.shop_timezone)

    @property
    def database_path(self) -> Path | None:
        """The SQLite file; None when the database is PostgreSQL."""
        return sqlite_path(self.database_url)


class ConfigurationError(Exception):
    """Bad configuration, with a message fit to print as the single line the owner reads."""


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning pydantic's report into one line that names the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigurationError(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        name = "_".join(str(part) for part in error["loc"]).upper()
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "missing":
            problems.append(f"{name} is required")
        elif name:
            problems.append(f"{name}: {message}")
        else:
            problems.append(message)
    return "configuration error: " + "; ".join(problems)
