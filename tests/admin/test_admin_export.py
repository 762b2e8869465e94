"""/export (a CSV document) and /chart (a PNG photo), through the Telegram emulator."""

from __future__ import annotations

import csv
import io
import re
import struct
import sys
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from bot.catalog.model import Catalog
from bot.references import reference_for
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from tests.admin.steps import pay_for
from tests.helpers import (
    ADMIN_ID,
    ONE_LINE_EACH,
    ask,
    from_now_on,
    next_message,
    rows,
    tap_product,
    write_directly,
)

DECIMALS = {"usd": 2, "eur": 2, "jpy": 0}
FORMULAS = ['=HYPERLINK("http://x")', "+1+2", "-2+3", "@SUM(A1)", "\tTAB"]
# Pieces a spreadsheet splitting on `;`, `,`, `|` or tabs would run, and what the export shows.
SPLIT_FORMULAS = {
    "x;=1+2;@SUM(1)": "x;'=1+2;'@SUM(1)",
    "Ada, +33 1 23|-4": "Ada, '+33 1 23|'-4",
    "a\tb\t=cmd()": "a\tb\t'=cmd()",
    "line\n @x": "line\n '@x",
}
SEPARATORS = re.compile(r"[,;|\t\r\n]")


@pytest.fixture
async def paris_shop(
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    stripe_api: StripeEmulator,
    seconds_per_chat: float,
) -> AsyncIterator[Service]:
    settings = make_settings(shop_timezone="Europe/Paris")
    async with Service(settings, catalog, seconds_per_chat=seconds_per_chat) as service:
        stripe_api.webhook_url = f"{service.http_url}/stripe/webhook"
        yield service


async def export_raw(telegram: TelegramEmulator, text: str) -> str:
    owner = telegram.user(ADMIN_ID, "Owner")
    after = from_now_on(telegram)
    await telegram.send_text(owner, text)
    await telegram.wait_for("sendDocument", after)
    return telegram.documents_to(ADMIN_ID)[-1][1].decode("utf-8-sig")


async def export(telegram: TelegramEmulator, text: str) -> tuple[str, list[dict[str, str]]]:
    owner = telegram.user(ADMIN_ID, "Owner")
    after = from_now_on(telegram)
    await telegram.send_text(owner, text)
    (call,) = await telegram.wait_for("sendDocument", after)
    name, data = telegram.documents_to(ADMIN_ID)[-1]
    assert call.response["result"]["document"]["file_name"] == name
    assert data.startswith(b"\xef\xbb\xbf")  # the byte order mark Excel needs for UTF-8
    return name, list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


async def test_export_sends_every_order_of_the_period_as_csv(
    paris_shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    await pay_for(telegram, stripe_api, 1, "The Forest Hiker")
    await pay_for(telegram, stripe_api, 2, "The Snow Adventurer")
    for number, name in enumerate(FORMULAS, 10):
        await tap_product(telegram, telegram.user(number, name), "Trail map")  # pending

    name, exported = await export(telegram, "/export today")

    stored = rows(paris_shop.settings.database_path, "SELECT * FROM orders ORDER BY id")
    assert name.startswith("orders_") and name.endswith(".csv")
    assert len(exported) == len(stored) == 2 + len(FORMULAS)
    for row, order in zip(exported, stored, strict=True):
        scale = Decimal(10) ** -DECIMALS[order["currency"]]
        assert row["reference"] == reference_for(order["id"])
        assert row["status"] == order["status"]
        assert Decimal(row["order_total"]) == order["amount_total"] * scale
        assert Decimal(row["unit_price"]) == order["unit_amount"] * scale
        assert row["currency"] == order["currency"].upper()
        created = datetime.fromisoformat(row["created_at"])
        assert created.timestamp() == order["created_at"]
        assert (
            created.utcoffset()
            == datetime.fromtimestamp(order["created_at"], paris_shop.settings.timezone).utcoffset()
        )
        if order["paid_at"] is None:
            assert row["paid_at"] == ""
        else:
            assert datetime.fromisoformat(row["paid_at"]).timestamp() == order["paid_at"]
        assert row["checkout_session_id"] == (order["checkout_session_id"] or "")
        assert row["payment_intent_id"] == (order["payment_intent_id"] or "")
    # Formula-looking names are kept, but a leading quote stops a spreadsheet from running them.
    names = [row["buyer_name"] for row in exported[2:]]
    assert names == ["'" + formula for formula in FORMULAS]
    for row in exported:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t")) for cell in row.values())


async def test_no_piece_a_spreadsheet_splits_off_runs_as_a_formula(
    shop: Service, telegram: TelegramEmulator
) -> None:
    for number, name in enumerate(SPLIT_FORMULAS, 10):
        await tap_product(telegram, telegram.user(number, name), "Trail map")
    text = await export_raw(telegram, "/export today")
    exported = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [row["buyer_name"] for row in exported] == list(SPLIT_FORMULAS.values())
    # Read with `;` (or any other separator), every field is still whole: each is quoted.
    for separator in ";,|\t":
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=separator):
            for cell in row:
                for piece in SEPARATORS.split(cell):
                    assert not piece.lstrip(" ").startswith(("=", "+", "-", "@")), piece


async def test_export_of_an_empty_period_and_of_a_wrong_one_says_so(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    await pay_for(telegram, stripe_api, 1, "Trail map")
    owner = telegram.user(ADMIN_ID, "Owner")
    empty = await ask(telegram, owner, "/export 2020-01-01..2020-01-31")
    assert empty["text"] == "No orders were created from 2020-01-01 to 2020-01-31."
    wrong = await ask(telegram, owner, "/export last-week")
    assert "Usage: /export [today|7d|30d|month|all|YYYY-MM-DD..YYYY-MM-DD]" in wrong["text"]
    assert telegram.documents_to(ADMIN_ID) == []


async def test_a_large_export_holds_every_order_once(
    shop: Service, telegram: TelegramEmulator
) -> None:
    """More orders than one chunk of the store, more bytes than the in-memory spool."""
    database = shop.settings.database_path
    count = 7_000
    await write_directly(
        database,
        "INSERT INTO orders (telegram_user_id, chat_id, buyer_name, product_id, product_title,"
        " quantity, unit_amount, amount_total, currency, status, created_at, updated_at)"
        " VALUES (?, ?, ?, 'trail-map', 'Trail map', 1, 1250, 1250, 'usd', 'expired', ?, ?)",
        [
            (n, n, f"Buyer {n} " + "x" * 150, 1_700_000_000 + n, 1_700_000_000 + n)
            for n in range(count)
        ],
        many=True,
    )
    await write_directly(database, ONE_LINE_EACH)
    _, exported = await export(telegram, "/export all")
    assert [row["buyer_id"] for row in exported] == [str(n) for n in range(count)]


async def test_an_export_over_telegrams_50_mb_is_refused_with_a_shorter_period_to_ask(
    shop: Service, telegram: TelegramEmulator
) -> None:
    """Telegram takes a bot's documents up to 50 MB: a bigger file is never sent to fail."""
    database = shop.settings.database_path
    long_name = "Buyer with a long name " + "x" * 230
    long_title = "A product with a long title " + "y" * 9_000
    count = 6_500  # about 9.4 kB a row: some 61 MB

    await write_directly(
        database,
        "INSERT INTO orders (telegram_user_id, chat_id, buyer_name, buyer_username,"
        " product_id, product_title, quantity, unit_amount, amount_total, currency,"
        " status, created_at, updated_at, checkout_session_id)"
        " VALUES (?, ?, ?, 'a_long_username_of_32_characters', 'trail-map', ?, 1, 1250,"
        " 1250, 'usd', 'expired', ?, ?, ?)",
        [
            (n, n, long_name, long_title, 1_700_000_000 + n, 1_700_000_000 + n, f"cs_{n:060}")
            for n in range(count)
        ],
        many=True,
    )
    await write_directly(database, ONE_LINE_EACH)
    owner = telegram.user(ADMIN_ID, "Owner")
    after = from_now_on(telegram)

    await telegram.send_text(owner, "/export all")

    answer = await next_message(telegram, owner, after=after, timeout=60)
    assert answer["text"] == (
        f"The {count} orders created so far make a file over the 50 MB Telegram takes."
        " Ask for a shorter period."
    )
    assert telegram.documents_to(ADMIN_ID) == []
    assert telegram.calls_to("sendDocument") == []


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_chart_sends_a_png_of_the_period(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    await pay_for(telegram, stripe_api, 1, "The Forest Hiker")
    await pay_for(telegram, stripe_api, 2, "The Snow Adventurer")
    owner = telegram.user(ADMIN_ID, "Owner")
    after = from_now_on(telegram)
    await telegram.send_text(owner, "/chart 7d")
    (call,) = await telegram.wait_for("sendPhoto", after, timeout=60)

    (image,) = telegram.photos_to(ADMIN_ID)
    width, height = png_size(image)
    assert 800 <= width <= 2000 and 600 <= height <= 2000
    assert 10_000 < len(image) < 1_000_000
    assert call.response["result"]["caption"].startswith("Daily revenue and paid orders")
    # Drawn in a child process: the bot never carries matplotlib's memory.
    assert "matplotlib" not in sys.modules


@pytest.mark.parametrize(
    ("days_ago", "caption"),
    [(200, "Weekly revenue and paid orders, so far"), (3 * 365, "Monthly revenue and paid orders")],
)
async def test_chart_of_a_long_period_draws_weeks_or_months(
    shop: Service,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    days_ago: int,
    caption: str,
) -> None:
    """A shop's whole life fits one chart: bars a week or a month wide once days would be
    too thin to see."""
    await pay_for(telegram, stripe_api, 1, "Trail map")
    await pay_for(telegram, stripe_api, 2, "Trail map")
    earlier = 24 * 60 * 60 * days_ago
    await write_directly(
        shop.settings.database_path,
        "UPDATE orders SET created_at = created_at - ?, paid_at = paid_at - ?"
        " WHERE id = (SELECT min(id) FROM orders)",
        (earlier, earlier),
    )  # the first sale, long ago
    owner = telegram.user(ADMIN_ID, "Owner")
    after = from_now_on(telegram)
    await telegram.send_text(owner, "/chart all")
    (call,) = await telegram.wait_for("sendPhoto", after, timeout=60)

    assert call.response["result"]["caption"].startswith(caption)
    (image,) = telegram.photos_to(ADMIN_ID)
    width, height = png_size(image)
    assert 800 <= width <= 2000 and 600 <= height <= 2000


@pytest.mark.parametrize(
    ("argument", "answer"),
    [
        (
            "2020-01-01..2020-01-31",
            "No paid orders from 2020-01-01 to 2020-01-31: nothing to draw.",
        ),
        (
            "2000-01-01..2020-01-01",
            "No paid orders from 2000-01-01 to 2020-01-01: nothing to draw.",
        ),
        ("1900-01-01..2020-01-01", "A chart shows at most 50 years; pick a shorter period."),
        (
            "fortnight",
            "Unknown period 'fortnight'."
            " Usage: /chart [today|7d|30d|month|all|YYYY-MM-DD..YYYY-MM-DD]",
        ),
    ],
)
async def test_chart_without_sales_or_with_a_wrong_period_says_so(
    shop: Service,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    argument: str,
    answer: str,
) -> None:
    await pay_for(telegram, stripe_api, 1, "Trail map")
    reply: dict[str, Any] = await ask(
        telegram, telegram.user(ADMIN_ID, "Owner"), f"/chart {argument}"
    )
    assert reply["text"] == answer
    assert telegram.photos_to(ADMIN_ID) == []
