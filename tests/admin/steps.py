"""What the admin tests share: a sale made and paid, the stored rows, the /stats table, and a
refund asked and confirmed in the chat."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bot.service import Service
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator, TgUser
from tests.helpers import (
    ADMIN_ID,
    buttons,
    from_now_on,
    next_message,
    rows,
    session_behind,
    snapshot,
    tap_product,
)


async def pay_for(
    telegram: TelegramEmulator, stripe_api: StripeEmulator, user_id: int, title: str
) -> dict[str, Any]:
    """A buyer taps a product and pays; returns the paid Checkout Session."""
    buyer = telegram.user(user_id, f"Buyer {user_id}", username=f"buyer{user_id}")
    session = session_behind(stripe_api, await tap_product(telegram, buyer, title))
    after = from_now_on(telegram)
    assert (await stripe_api.pay(session["id"])).status == 200
    await next_message(telegram, buyer, text="Payment received", after=after)
    return session


def database(shop: Service) -> Path:
    """The shop's SQLite file."""
    return shop.settings.database_path


# What the outbox sender writes on a row as it delivers it.
DELIVERY_BOOKKEEPING = ("sent_at", "attempts", "claimed_by", "claimed_until")


def stored(shop: Service) -> dict[str, list[dict[str, Any]]]:
    """Every stored row, less the outbox's delivery bookkeeping (the buyer's confirmation may
    be marked sent at any moment) and which chats have the admins' menu (the owner's first
    message gives it, whatever that message asks)."""
    tables = snapshot(database(shop))
    del tables["admin_menus"]
    tables["outbox"] = [
        {k: v for k, v in row.items() if k not in DELIVERY_BOOKKEEPING} for row in tables["outbox"]
    ]
    return tables


def table_of(report: str) -> dict[tuple[str, str], list[str]]:
    """The /stats table as {(currency or "", row label): [one value per period]}."""
    table: dict[tuple[str, str], list[str]] = {}
    section = ""
    for line in report.splitlines()[2:]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) == 1 and re.fullmatch(r"[A-Z]{3}", cells[0]):
            section = cells[0]
        elif len(cells) > 1:
            key = (section if line.startswith(" ") else "", cells[0])
            table[key] = cells[1:]
    return table


async def paid_order(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> tuple[dict[str, Any], TgUser]:
    """Buyer 1's paid Forest Hiker: the order's row, and the buyer."""
    await pay_for(telegram, stripe_api, 1, "The Forest Hiker")
    (order,) = rows(shop.settings.database_path, "SELECT * FROM orders")
    return order, telegram.user(1, "Buyer 1", username="buyer1")


def refund_requests(stripe_api: StripeEmulator) -> list[Any]:
    """The requests the bot made to create refunds at Stripe."""
    return [r for r in stripe_api.requests if r.method == "POST" and r.path == "/v1/refunds"]


def confirm_button(question: dict[str, Any]) -> str:
    """The refund question's Confirm button's data (it has Confirm, then Cancel)."""
    confirm, cancel = buttons(question)
    assert confirm["text"].startswith("Refund ") and cancel["text"] == "Cancel"
    data: str = confirm["callback_data"]
    return data


async def confirm(
    telegram: TelegramEmulator, owner: TgUser, question: dict[str, Any], taps: int = 1
) -> dict[str, Any]:
    """Tap Confirm (several times before the bot answers); the question as it ends."""
    after = from_now_on(telegram)
    for _ in range(taps):
        await telegram.tap(owner, question, confirm_button(question))
    await telegram.wait_for("editMessageText", after, timeout=10)
    (ended,) = [
        m for m in telegram.messages_to(ADMIN_ID) if m["message_id"] == question["message_id"]
    ]
    return ended
