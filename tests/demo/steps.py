"""What the demo's tests share: the demo in this process for its API, the demo as the
`checkout-bot demo` command for the browser, and a person's steps on the page."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.catalog.model import load_catalog
from bot.demo.shop import DemoShop
from bot.demo.web import create_demo_app
from tests.helpers import REPO

ADDRESS = re.compile(r"open (http://127\.0\.0\.1:\d+/)")
# An order's reference as the chat shows it, "#K7Q2" (Crockford's base 32, bot/references.py).
REFERENCE = re.compile(r"#([0-9A-HJKMNP-TV-Z]{4,12})\b")
# Bounds on waits for events, so that a feature that broke fails the test instead of hanging.
WAIT_SECONDS = 10.0


@asynccontextmanager
async def demo_in_process(tmp_path: Path) -> AsyncIterator[tuple[DemoShop, str]]:
    """The demo shop and its web server on a free loopback port: the shop and the page's URL."""
    async with DemoShop(
        load_catalog(REPO / "catalog.toml"),
        catalog_file=REPO / "catalog.toml",
        database_url=f"sqlite:///{tmp_path / 'demo.db'}",
    ) as shop:
        runner = web.AppRunner(create_demo_app(shop), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            yield shop, f"http://127.0.0.1:{runner.addresses[0][1]}"
        finally:
            await runner.cleanup()


async def next_snapshot(
    feed: aiohttp.ClientWebSocketResponse, wanted: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The first snapshot the live feed sends that `wanted` accepts."""
    async with asyncio.timeout(WAIT_SECONDS):
        async for message in feed:
            snapshot: dict[str, Any] = json.loads(message.data)
            if wanted(snapshot):
                return snapshot
    raise AssertionError("the live feed closed before the snapshot came")


def texts(snapshot: dict[str, Any]) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in snapshot["chat"]["messages"]]


def has_text(part: str) -> Callable[[dict[str, Any]], bool]:
    return lambda snapshot: any(part in text for text in texts(snapshot))


def last_with_button(snapshot: dict[str, Any], label: str) -> tuple[int, dict[str, Any]]:
    """The latest bot message with a button whose label starts with `label`, and the button."""
    for message in reversed(snapshot["chat"]["messages"]):
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if button["text"].startswith(label):
                    return message["message_id"], button
    raise AssertionError(f"no button {label!r} in the chat")


def has_button(label: str) -> Callable[[dict[str, Any]], bool]:
    def found(snapshot: dict[str, Any]) -> bool:
        try:
            last_with_button(snapshot, label)
        except AssertionError:
            return False
        return True

    return found


@contextmanager
def demo_command(tmp_path: Path, *arguments: str) -> Iterator[str]:
    """`checkout-bot demo --port 0` as a child process: the address it prints. Stopped with
    SIGTERM afterwards, which must end it cleanly."""
    log = (tmp_path / "demo.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "demo", "--port", "0", *arguments],
        cwd=tmp_path,
        # Real-looking credentials in the environment: the demo must not use them (the
        # emulators would refuse them and the demo would not start).
        env={
            **os.environ,
            "PYTHONPATH": str(REPO),
            "TELEGRAM_BOT_TOKEN": "987654321:AAreal-looking-token",
            "STRIPE_SECRET_KEY": "sk_live_real_looking_key",
            "DATABASE_URL": "sqlite:////nonexistent-folder/shop.db",
        },
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # the address, or EOF if it died
        found = ADDRESS.search(line)
        assert found, f"no address printed: {line!r}; log: {(tmp_path / 'demo.log').read_text()}"
        yield found.group(1)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
        log.close()
        assert code == 0, (tmp_path / "demo.log").read_text()


async def tap_as(
    http: aiohttp.ClientSession, url: str, person: str, snapshot: dict[str, Any], label: str
) -> None:
    """As `person`, tap the latest button of their chat whose label starts with `label`."""
    message_id, button = last_with_button(snapshot, label)
    body = {"as": person, "message_id": message_id, "data": button["callback_data"]}
    async with http.post(f"{url}/api/tap", json=body) as response:
        assert response.status == 200, await response.text()


def refund_answered(snapshot: dict[str, Any]) -> bool:
    """Whether the panel shows a refunded order and Stripe's refund events, each answered."""
    machinery = snapshot["machinery"]
    answered = {e["type"] for e in machinery["events"] if e["status"] == 200}
    return answered >= REFUND_EVENTS and any(o["status"] == "refunded" for o in machinery["orders"])


# What Stripe sends for a refund that succeeds at once (sandbox/stripe_emulator/refunds.py).
REFUND_EVENTS = {"charge.refunded", "refund.created"}


def refund_questions(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    """The bot's messages in the admin's chat that ask about a refund, as they are now."""
    return [
        m
        for m in snapshot["chat"]["messages"]
        if not m["outgoing"] and m.get("text", "").startswith("Refund ")
    ]
