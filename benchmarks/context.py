"""What every benchmark is given: the run's options, a scratch folder, and emulator settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator

REPO = Path(__file__).resolve().parents[1]
# Obviously fake secrets: the processes under test only ever meet the emulators.
STRIPE_WEBHOOK_SECRET = "whsec_bench_fake_signing_secret"
TELEGRAM_WEBHOOK_SECRET = "bench-fake-telegram-secret"


@dataclass(frozen=True)
class RunContext:
    quick: bool
    peers: Path | None  # ../shared/peers, or None when it is absent
    scratch: Path

    def folder(self, name: str) -> Path:
        path = self.scratch / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def bot_settings(
    telegram: TelegramEmulator, stripe_api: StripeEmulator, database: Path
) -> dict[str, str]:
    """The environment of a bot pointed at the emulators, in polling mode."""
    return {
        "TELEGRAM_BOT_TOKEN": telegram.token,
        "TELEGRAM_API_BASE_URL": telegram.base_url,
        "STRIPE_SECRET_KEY": stripe_api.api_key,
        "STRIPE_WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET,
        "STRIPE_API_BASE_URL": stripe_api.base_url,
        "DATABASE_URL": f"sqlite:///{database}",
        "CATALOG_FILE": str(REPO / "catalog.toml"),
        "LOG_LEVEL": "INFO",
    }
