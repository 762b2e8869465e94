"""An invoice in Telegram Stars holds its units for ten minutes, with no Checkout Session to
end the hold: at the pre-checkout query a hold that ran out is taken again if the units are
still there, else the buyer is refused before paying; a payment that still finds them gone
goes back at once. Through the real bot and the emulator, on both backends, with the
service's wall clock moved by the test."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.catalog.model import load_catalog
from bot.references import reference_for
from bot.service import Service
from bot.settings import Settings
from sandbox.telegram_api import ApiCall, TelegramEmulator, TgUser
from tests.databases import fetch
from tests.helpers import (
    QUICK_RETRIES,
    button_with,
    from_now_on,
    next_message,
    open_card,
    until,
)

LAST_CODE = "KEY-LAST-0001"
CATALOG = """
[shop]
name = "Pixels"

[[products]]
id = "key"
title = "Licence key"
price = "90"
currency = "xtr"
deliver = { keys = "keys.txt" }
"""
# An invoice holds its units this long, from its creation and from a yes at pre-checkout.
PAST_A_HOLD = 11 * 60


class MovableClock:
    """The wall clock, which the test moves forward."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead

    def pass_seconds(self, seconds: float) -> None:
        self.ahead += seconds


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
async def one_code_shop(
    make_settings: Callable[..., Settings],
    telegram: TelegramEmulator,
    database_url: str,
    clock: MovableClock,
    tmp_path: Path,
    seconds_per_chat: float,
) -> AsyncIterator[Service]:
    """A shop whose licence key, priced in Stars, has one code left in its pool."""
    (tmp_path / "keys.txt").write_text(f"{LAST_CODE}\n")
    catalog_file = tmp_path / "catalog.toml"
    catalog_file.write_text(CATALOG)
    settings = make_settings(catalog_file=catalog_file, database_url=database_url)
    async with Service(
        settings,
        load_catalog(catalog_file),
        wall_clock=clock,
        outbox_delays=QUICK_RETRIES,
        seconds_per_chat=seconds_per_chat,
    ) as shop:
        yield shop


async def invoice_for(
    telegram: TelegramEmulator, user: TgUser, database_url: str
) -> dict[str, Any]:
    """Open the licence key's card and tap Buy: the invoice the bot sends, once the bot has
    stored it with the order."""
    card = await open_card(telegram, user, "Licence key")
    after = from_now_on(telegram)
    await telegram.tap(user, card, button_with(card, "buy:")["callback_data"])
    (call,) = await telegram.wait_for(
        "sendInvoice", lambda c: after(c) and c.params.get("chat_id") in (user.id, str(user.id))
    )
    invoice: dict[str, Any] = call.response["result"]

    async def stored() -> bool:
        orders = await fetch(
            database_url,
            "SELECT id FROM orders WHERE telegram_user_id = $1 AND pay_message_id = $2",
            user.id,
            invoice["message_id"],
        )
        return bool(orders)

    await until(stored, what="the invoice stored with its order", every=0.05)
    return invoice


async def order_of(database_url: str, user: TgUser) -> dict[str, Any]:
    (order,) = await fetch(
        database_url, "SELECT * FROM orders WHERE telegram_user_id = $1", user.id
    )
    return order


async def stored_for(database_url: str, user: TgUser) -> dict[str, list[dict[str, Any]]]:
    """Everything stored about the buyer and their order."""
    order_id = (await order_of(database_url, user))["id"]
    by_order = ("order_lines", "order_history", "key_codes", "star_payments", "outbox")
    stored = {
        table: await fetch(database_url, f"SELECT * FROM {table} WHERE order_id = $1", order_id)
        for table in by_order
    }
    stored["orders"] = [await order_of(database_url, user)]
    stored["chat"] = await fetch(database_url, "SELECT * FROM outbox WHERE chat_id = $1", user.id)
    return stored


def delivering(code: str) -> Callable[[ApiCall], bool]:
    return lambda call: code in call.params.get("text", "")


async def test_two_invoices_past_their_hold_cannot_both_be_paid_for_the_last_code(
    one_code_shop: Service, telegram: TelegramEmulator, database_url: str, clock: MovableClock
) -> None:
    """Ada's invoice stops holding the last code after ten minutes, so Bea gets an invoice for
    it; ten minutes later neither holds it. Both open the payment form: the first asked takes
    the hold again and pays, the other is refused in their language before paying, and
    nothing stored about them changes."""
    ada = telegram.user(6101, "Ada", language_code="en")
    bea = telegram.user(6102, "Bea", language_code="fr")
    first = await invoice_for(telegram, ada, database_url)
    clock.pass_seconds(PAST_A_HOLD)
    second = await invoice_for(telegram, bea, database_url)
    clock.pass_seconds(PAST_A_HOLD)
    forms = {
        ada: telegram.payments.open_form(ada, first),
        bea: telegram.payments.open_form(bea, second),
    }
    before = {buyer: await stored_for(database_url, buyer) for buyer in forms}

    after = from_now_on(telegram)
    outcomes = dict(
        zip(forms, await asyncio.gather(*(form.confirm() for form in forms.values())), strict=True)
    )
    (winner,) = [buyer for buyer, payment in outcomes.items() if payment.outcome == "paid"]
    (loser,) = [buyer for buyer, payment in outcomes.items() if payment.outcome == "refused"]
    sold_out = {
        ada: "Sorry, this product just sold out.",
        bea: "Désolé, ce produit vient d’être épuisé.",
    }
    assert (outcomes[loser].error_message or "").startswith(sold_out[loser])
    assert len(telegram.payments.charges) == 1

    await telegram.wait_for("sendMessage", lambda c: after(c) and delivering(LAST_CODE)(c))
    assert (await order_of(database_url, winner))["status"] == "paid"
    (code,) = await fetch(database_url, "SELECT order_id FROM key_codes")
    assert code["order_id"] == (await order_of(database_url, winner))["id"]
    assert await stored_for(database_url, loser) == before[loser]


async def test_a_payment_whose_units_went_meanwhile_goes_back_at_once(
    one_code_shop: Service, telegram: TelegramEmulator, database_url: str, clock: MovableClock
) -> None:
    """The bot says yes to Ada's payment; before Telegram's charge arrives, her hold runs out
    and Bea buys and pays for the last code. Ada's Stars go back at once, she is told why, her
    order fails, and she is sent no code."""
    ada, bea = telegram.user(6201, "Ada"), telegram.user(6202, "Bea")
    form = telegram.payments.open_form(ada, await invoice_for(telegram, ada, database_url))

    async def bea_buys_the_last_code() -> None:
        clock.pass_seconds(PAST_A_HOLD)
        bought = await telegram.pay(bea, await invoice_for(telegram, bea, database_url))
        assert bought.outcome == "paid"

    after = from_now_on(telegram)
    payment = await form.confirm(meanwhile=bea_buys_the_last_code)
    assert payment.outcome == "paid" and payment.charge is not None
    told = await next_message(telegram, ada, text="sold out before this payment", after=after)
    order = await order_of(database_url, ada)
    assert f"#{reference_for(order['id'])}" in told["text"]
    assert payment.charge.refunded
    (refund,) = telegram.calls_to("refundStarPayment")
    assert refund.params["telegram_payment_charge_id"] == payment.charge.telegram_payment_charge_id
    (star_row,) = await fetch(
        database_url, "SELECT refunded_at FROM star_payments WHERE order_id = $1", order["id"]
    )
    assert star_row["refunded_at"] is not None
    assert order["status"] == "failed"
    (code,) = await fetch(database_url, "SELECT order_id FROM key_codes")
    assert code["order_id"] == (await order_of(database_url, bea))["id"]
    await telegram.wait_for("sendMessage", lambda c: after(c) and delivering(LAST_CODE)(c))
    delivered_to = [
        c.params["chat_id"] for c in telegram.calls_to("sendMessage") if delivering(LAST_CODE)(c)
    ]
    assert delivered_to in ([bea.id], [str(bea.id)])
