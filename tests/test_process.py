"""`python -m bot` as a real process: bad configuration, a clean stop, no secret in the log."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from tests.processes import environment, finish, run_bot, valid


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        ("TELEGRAM_BOT_TOKEN", "TELEGRAM_BOT_TOKEN is required"),
        ("STRIPE_SECRET_KEY", "STRIPE_SECRET_KEY is required"),
    ],
)
async def test_missing_configuration_stops_with_one_clear_line(
    tmp_path: Path, missing: str, expected: str
) -> None:
    env = valid(tmp_path)
    del env[missing]
    code, stderr = await finish(await run_bot(env, tmp_path))
    assert code == 2
    assert stderr.strip().splitlines() == [f"checkout-bot: configuration error: {expected}"]
    assert not (tmp_path / "shop.db").exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [("SHOP_TIMEZONE", "America"), ("ADMIN_IDS", f"900001,{2**64}")],
)
async def test_a_setting_that_used_to_fail_later_stops_start_up_with_one_line(
    tmp_path: Path, name: str, value: str
) -> None:
    """Both passed validation, then ended start-up in a traceback: a folder of zones, and an
    id past SQLite's integers."""
    code, stderr = await finish(await run_bot(valid(tmp_path, **{name: value}), tmp_path))
    assert code == 2
    (line,) = stderr.strip().splitlines()
    assert line.startswith(f"checkout-bot: configuration error: {name}: ")
    assert not (tmp_path / "shop.db").exists()


async def test_a_price_that_does_not_fit_its_currency_stops_start_up(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(
        '[shop]\nname = "Yen shop"\n\n[[products]]\nid = "tea"\ntitle = "Tea"\n'
        'price = "3000.5"\ncurrency = "jpy"\n'
    )
    code, stderr = await finish(await run_bot(valid(tmp_path, CATALOG_FILE=str(catalog)), tmp_path))
    assert code == 2
    (line,) = stderr.strip().splitlines()
    assert str(catalog) in line and "'tea'" in line and "'price'" in line and "JPY" in line


async def test_a_token_telegram_refuses_stops_with_one_line(
    tmp_path: Path, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    env = valid(
        tmp_path,
        TELEGRAM_BOT_TOKEN="123456789:WRONG-token",
        TELEGRAM_API_BASE_URL=telegram.base_url,
        STRIPE_API_BASE_URL=stripe_api.base_url,
        HTTP_HOST="127.0.0.1",
        HTTP_PORT="0",  # any free port: nobody connects to it
    )
    code, stderr = await finish(await run_bot(env, tmp_path))
    assert code == 1
    assert "TELEGRAM_BOT_TOKEN was refused" in stderr.strip().splitlines()[-1]
    assert "Traceback" not in stderr and "WRONG-token" not in stderr


async def test_sigterm_stops_cleanly_and_no_secret_reaches_the_log(
    tmp_path: Path, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    env = valid(
        tmp_path,
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_API_BASE_URL=telegram.base_url,
        STRIPE_SECRET_KEY=stripe_api.api_key,
        STRIPE_WEBHOOK_SECRET=stripe_api.webhook_secret,
        STRIPE_API_BASE_URL=stripe_api.base_url,
        HTTP_HOST="127.0.0.1",
        HTTP_PORT="0",  # any free port: nobody connects to it
        LOG_LEVEL="DEBUG",
    )
    process = await run_bot(env, tmp_path)
    # Up once it polls for updates (the last step of start-up is the command list).
    await telegram.wait_for("setMyCommands", timeout=20)
    ada = telegram.user(4242, "Ada")
    await telegram.send_text(ada, "/help")
    await telegram.wait_for("sendMessage", timeout=10)

    process.send_signal(signal.SIGTERM)
    code, stderr = await finish(process)

    assert code == 0, stderr
    assert "stopped cleanly" in stderr
    for problem in ("Traceback", "Task was destroyed", "never awaited", "Unclosed"):
        assert problem not in stderr
    for secret in (telegram.token, stripe_api.api_key, stripe_api.webhook_secret):
        assert secret not in stderr
    assert (tmp_path / "shop.db").exists()


async def test_a_start_up_error_quoting_the_token_url_prints_it_masked(tmp_path: Path) -> None:
    """A port typo: aiohttp's error names the URL it refused, and the token is in the URL."""
    env = valid(tmp_path, TELEGRAM_API_BASE_URL="http://127.0.0.1:99999/bot")
    code, stderr = await finish(await run_bot(env, tmp_path))
    assert code == 1
    (line,) = stderr.strip().splitlines()
    assert "cannot reach the Telegram Bot API" in line
    assert env["TELEGRAM_BOT_TOKEN"] not in stderr
    assert "/bot1234…[redacted]/getMe" in line


def test_what_a_library_prints_is_masked_too(tmp_path: Path) -> None:
    """Not only the log and the start-up line: anything written to stdout or stderr."""
    script = (
        "import sys\n"
        "from bot.masked_output import mask_standard_streams\n"
        "mask_standard_streams(['123456789:TEST-fake-token'])\n"
        "print('url /bot123456789:TEST-fake-token/getMe')\n"
        "sys.stderr.write('err 123456789:TEST-fake-token\\n')\n"
        "raise RuntimeError('in a traceback 123456789:TEST-fake-token')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=environment(tmp_path), capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "TEST-fake-token" not in done.stdout + done.stderr
    assert done.stdout.count("[redacted]") == 1 and done.stderr.count("[redacted]") == 2
