"""Digital goods end to end: sold in Telegram Stars or, with rail = "stripe", through Stripe;
delivered once through the outbox; sent again from /orders; taken back by a full refund."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.catalog.model import load_catalog
from bot.references import reference_for
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import ApiCall, TelegramEmulator, TgUser
from tests.admin.steps import confirm
from tests.buyer.steps import add_to_cart, cart_rows, open_cart
from tests.helpers import (
    ADMIN_ID,
    QUICK_RETRIES,
    answer_to,
    ask,
    button_with,
    buttons,
    from_now_on,
    next_message,
    open_card,
    rows,
    session_behind,
    tap_and_see,
    until,
)

GROUP_ID = -1001234567890
CODES = ("KEY-AAAA-1111", "KEY-BBBB-2222")
PDF = b"%PDF-1.4 the guide"

CATALOG = """
[shop]
name = "Pixels"
support = "@pixels_help"

[[categories]]
id = "stars"
title = "In Stars"

[[categories]]
id = "card"
title = "By card"

[[products]]
id = "key"
title = "Licence key"
price = "90"
currency = "xtr"
category = "stars"
deliver = { keys = "keys.txt" }

[[products]]
id = "club"
title = "Members club"
price = "200"
currency = "xtr"
category = "stars"
deliver = { invite = -1001234567890 }

[[products]]
id = "guide"
title = "Guide"
price = "150"
currency = "xtr"
category = "stars"
deliver = { file = "guide.pdf" }

[[products]]
id = "notes"
title = "Notes"
price = "40"
currency = "xtr"
category = "stars"
deliver = { text = "Download at https://example.com/notes" }

[[products]]
id = "key-card"
title = "Card key"
price = "5.00"
currency = "usd"
rail = "stripe"
category = "card"
deliver = { keys = "card-keys.txt" }

[[products]]
id = "club-card"
title = "Card club"
price = "9.00"
currency = "usd"
rail = "stripe"
category = "card"
deliver = { invite = -1001234567890 }

[[products]]
id = "guide-card"
title = "Card guide"
price = "7.00"
currency = "usd"
rail = "stripe"
category = "card"
deliver = { file = "guide.pdf" }

[[products]]
id = "notes-card"
title = "Card notes"
price = "3.00"
currency = "usd"
rail = "stripe"
category = "card"
deliver = { text = "Booking at https://example.com/book" }
"""


@pytest.fixture
def catalog_file(tmp_path: Path) -> Path:
    (tmp_path / "keys.txt").write_text("\n".join(CODES) + "\n")
    (tmp_path / "card-keys.txt").write_text("CARD-CCCC-3333\n")
    (tmp_path / "guide.pdf").write_bytes(PDF)
    path = tmp_path / "catalog.toml"
    path.write_text(CATALOG)
    return path


@pytest.fixture
async def goods_shop(
    make_settings: Callable[..., Settings],
    catalog_file: Path,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    seconds_per_chat: float,
) -> AsyncIterator[Service]:
    telegram.groups.add(GROUP_ID, "Members")
    settings = make_settings(catalog_file=catalog_file)
    goods = load_catalog(catalog_file)
    async with Service(
        settings, goods, outbox_delays=QUICK_RETRIES, seconds_per_chat=seconds_per_chat
    ) as shop:
        stripe_api.webhook_url = f"{shop.http_url}/stripe/webhook"
        yield shop


def to(user: TgUser) -> Callable[[ApiCall], bool]:
    return lambda call: call.params.get("chat_id") in (user.id, str(user.id))


async def invoice_for(telegram: TelegramEmulator, user: TgUser, title: str) -> dict[str, Any]:
    """Open the product's card and tap Buy: the invoice the bot sends."""
    card = await open_card(telegram, user, title)
    after = from_now_on(telegram)
    await telegram.tap(user, card, button_with(card, "buy:")["callback_data"])
    (call,) = await telegram.wait_for("sendInvoice", lambda c: after(c) and to(user)(c))
    invoice: dict[str, Any] = call.response["result"]
    return invoice


async def pay_in_stars(telegram: TelegramEmulator, user: TgUser, title: str) -> Any:
    """Buy a product priced in Stars and pay its invoice: the payment as Telegram made it."""
    payment = await telegram.pay(user, await invoice_for(telegram, user, title))
    assert payment.outcome == "paid", payment
    return payment


async def delivered(
    telegram: TelegramEmulator, user: TgUser, after: Callable[[ApiCall], bool], method: str
) -> dict[str, Any]:
    """The message that delivers the goods (a text with "Your order", or a document)."""
    (call,) = await telegram.wait_for(
        method,
        lambda c: (
            after(c)
            and to(user)(c)
            and "order #" in c.response["result"].get("text", c.params.get("caption", ""))
        ),
    )
    message: dict[str, Any] = call.response["result"]
    return message


def database(shop: Service) -> Path:
    path = shop.settings.database_path
    assert path is not None
    return path


async def test_each_kind_is_delivered_after_a_stars_payment(
    goods_shop: Service, telegram: TelegramEmulator
) -> None:
    # Each purchase by a buyer of its own: the outbox keeps Telegram's one message a second
    # per chat.
    ada, bea, cy, dee, eve = (telegram.user(5001 + n, name) for n, name in enumerate("ABCDE"))

    after = from_now_on(telegram)
    payment = await pay_in_stars(telegram, ada, "Licence key")
    keyed = await delivered(telegram, ada, after, "sendMessage")
    assert "Payment received" in keyed["text"] and CODES[0] in keyed["text"]
    invoice_call = telegram.calls_to("sendInvoice")[-1].params
    assert invoice_call["currency"] == "XTR" and "provider_token" not in invoice_call
    assert [price["amount"] for price in invoice_call["prices"]] == [90]

    # The same successful_payment again (Telegram repeating it): applied once, sent once.
    assert payment.message is not None
    await telegram.push_update({"message": payment.message})
    after = from_now_on(telegram)
    await pay_in_stars(telegram, bea, "Notes")  # handled after the repeat
    noted = await delivered(telegram, bea, after, "sendMessage")
    assert "https://example.com/notes" in noted["text"]
    sent_codes = [
        call for call in telegram.calls_to("sendMessage") if CODES[0] in call.params["text"]
    ]
    assert len(sent_codes) == 1
    charges = rows(database(goods_shop), "SELECT amount FROM star_payments ORDER BY amount")
    assert [row["amount"] for row in charges] == [40, 90]

    after = from_now_on(telegram)
    await pay_in_stars(telegram, cy, "Members club")
    invited = await delivered(telegram, cy, after, "sendMessage")
    (made,) = telegram.calls_to("createChatInviteLink")
    assert made.params["member_limit"] == 1 and made.params["chat_id"] == GROUP_ID
    link = made.response["result"]["invite_link"]
    assert link in invited["text"]
    telegram.groups.join(cy, link)
    assert telegram.groups.members(GROUP_ID) == {cy.id}

    after = from_now_on(telegram)
    await pay_in_stars(telegram, dee, "Guide")
    document = await delivered(telegram, dee, after, "sendDocument")
    assert telegram.file_content(document["document"]["file_id"]) == (
        "guide.pdf",
        "application/pdf",
        PDF,
    )
    # Another buyer's copy is sent by Telegram's file id, not uploaded again.
    after = from_now_on(telegram)
    await pay_in_stars(telegram, eve, "Guide")
    await delivered(telegram, eve, after, "sendDocument")
    (second,) = [call for call in telegram.calls_to("sendDocument") if to(eve)(call)]
    assert second.params["document"] == document["document"]["file_id"]

    # /orders: "Send again" gives the same code, and the same link.
    for buyer, same in ((ada, CODES[0]), (cy, link)):
        after = from_now_on(telegram)
        await telegram.send_text(buyer, "/orders")
        listing = await next_message(telegram, buyer, with_buttons="callback_data", after=after)
        await telegram.tap(buyer, listing, button_with(listing, "resend:")["callback_data"])
        again = await delivered(telegram, buyer, after, "sendMessage")
        assert same in again["text"] and "Payment received" not in again["text"]
    assert len(telegram.calls_to("createChatInviteLink")) == 1

    # /paysupport: whom to ask, and the buyer's recent payments.
    support = await ask(telegram, ada, "/paysupport")
    assert "@pixels_help" in support["text"]
    assert "Licence key" in support["text"] and "Notes" not in support["text"]

    # The owner sees the code's last four characters, never the whole code.
    (order,) = rows(database(goods_shop), "SELECT id FROM orders WHERE product_id = 'key'")
    owner = telegram.user(ADMIN_ID, "Owner")
    after = from_now_on(telegram)
    await telegram.send_text(owner, f"/order {reference_for(order['id'])}")
    details = await next_message(telegram, owner, text="Order #", after=after)
    assert "…1111" in details["text"] and CODES[0] not in details["text"]
    # The figures count Stars as a currency of their own; the export holds no code.
    paid = sum(
        row["amount"] for row in rows(database(goods_shop), "SELECT amount FROM star_payments")
    )
    stats = await ask(telegram, owner, "/stats all")
    assert re.search(rf"^XTR$\n.*\n Gross +⭐\u00a0{paid}$", stats["text"], re.MULTILINE)
    after = from_now_on(telegram)
    await telegram.send_text(owner, "/export all")
    await telegram.wait_for("sendDocument", lambda c: after(c) and to(owner)(c))
    exported = telegram.documents_to(ADMIN_ID)[-1][1].decode("utf-8-sig")
    assert "XTR" in exported.upper() and not any(code in exported for code in CODES)


async def pay_by_card(
    telegram: TelegramEmulator, stripe_api: StripeEmulator, user: TgUser, title: str
) -> dict[str, Any]:
    """Buy a product sold through Stripe and pay its Checkout Session; returns the session."""
    card = await open_card(telegram, user, title)
    after = from_now_on(telegram)
    await telegram.tap(user, card, button_with(card, "buy:")["callback_data"])
    session = session_behind(
        stripe_api, await next_message(telegram, user, with_buttons="url", after=after)
    )
    assert (await stripe_api.pay(session["id"])).status == 200
    return session


async def test_each_kind_is_delivered_after_a_stripe_payment(
    goods_shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada, bea, cy, dee = (telegram.user(5101 + n, name) for n, name in enumerate("ABCD"))
    after = from_now_on(telegram)
    await pay_by_card(telegram, stripe_api, ada, "Card key")
    assert "CARD-CCCC-3333" in (await delivered(telegram, ada, after, "sendMessage"))["text"]
    await pay_by_card(telegram, stripe_api, bea, "Card notes")
    noted = await delivered(telegram, bea, after, "sendMessage")
    assert "https://example.com/book" in noted["text"] and "Payment received" in noted["text"]
    await pay_by_card(telegram, stripe_api, cy, "Card club")
    invited = await delivered(telegram, cy, after, "sendMessage")
    (made,) = telegram.calls_to("createChatInviteLink")
    assert made.response["result"]["invite_link"] in invited["text"]
    await pay_by_card(telegram, stripe_api, dee, "Card guide")
    document = await delivered(telegram, dee, after, "sendDocument")
    assert telegram.file_content(document["document"]["file_id"]) == (
        "guide.pdf",
        "application/pdf",
        PDF,
    )
    # Each buyer got one message about the order: the goods with the payment's confirmation.
    for buyer in (ada, bea, cy):
        about = [
            call
            for call in telegram.calls_to("sendMessage")
            if after(call) and to(buyer)(call) and "order #" in call.params["text"]
        ]
        assert len(about) == 1
    # The card key is sold out now: its one code went to the one order.
    taken = rows(database(goods_shop), "SELECT order_id FROM key_codes WHERE code LIKE 'CARD%'")
    assert len(taken) == 1 and taken[0]["order_id"] is not None


async def test_buyers_racing_for_the_last_code_one_gets_it(
    goods_shop: Service, telegram: TelegramEmulator
) -> None:
    first = telegram.user(5201, "First")
    await pay_in_stars(telegram, first, "Licence key")
    ada, bea = telegram.user(5202, "Ada"), telegram.user(5203, "Bea")
    cards = [await open_card(telegram, buyer, "Licence key") for buyer in (ada, bea)]
    after = from_now_on(telegram)
    taps = [
        await telegram.tap(buyer, card, button_with(card, "buy:")["callback_data"])
        for buyer, card in zip((ada, bea), cards, strict=True)
    ]
    answers = await asyncio.gather(*(answer_to(telegram, tap) for tap in taps))
    invoices = await telegram.wait_for("sendInvoice", after)
    refused = [answer for answer in answers if "sold out" in answer.get("text", "")]
    assert len(invoices) == 1 and len(refused) == 1
    (winner,) = [buyer for buyer in (ada, bea) if to(buyer)(invoices[0])]
    after = from_now_on(telegram)
    await telegram.pay(winner, invoices[0].response["result"])
    assert CODES[1] in (await delivered(telegram, winner, after, "sendMessage"))["text"]
    codes = rows(database(goods_shop), "SELECT order_id FROM key_codes WHERE code LIKE 'KEY%'")
    assert len({row["order_id"] for row in codes}) == 2  # two orders, one code each

    # Sold out now; the owner appends a code and reloads: the loser buys it.
    (loser,) = [buyer for buyer in (ada, bea) if buyer is not winner]
    card = await open_card(telegram, loser, "Licence key")
    assert "Sold out" in card["text"]
    catalog_file = goods_shop.settings.catalog_file
    with (catalog_file.parent / "keys.txt").open("a") as pool:
        pool.write("KEY-DDDD-4444\n")
    reloaded = await ask(telegram, telegram.user(ADMIN_ID, "Owner"), "/reload")
    assert reloaded["text"].startswith("Catalog reloaded")
    after = from_now_on(telegram)
    await pay_in_stars(telegram, loser, "Licence key")
    assert "KEY-DDDD-4444" in (await delivered(telegram, loser, after, "sendMessage"))["text"]


async def test_a_refused_or_late_pre_checkout_takes_no_payment(
    goods_shop: Service, telegram: TelegramEmulator
) -> None:
    ada = telegram.user(5301, "Ada")
    first = await invoice_for(telegram, ada, "Notes")
    # The buyer opens the first invoice's payment form; meanwhile a new tap for two replaces
    # that invoice: confirming the form is refused.
    form = telegram.payments.open_form(ada, first)
    card = await open_card(telegram, ada, "Notes")
    more = next(b for b in buttons(card) if b["text"] == "+")["callback_data"]
    card = await tap_and_see(telegram, ada, card, more)
    after = from_now_on(telegram)
    await telegram.tap(ada, card, button_with(card, "buy:")["callback_data"])
    await telegram.wait_for("sendInvoice", after)
    await telegram.wait_for("deleteMessage", after)
    refused = await form.confirm()
    assert refused.outcome == "refused"
    assert refused.error_message is not None and "closed" in refused.error_message
    orders = rows(database(goods_shop), "SELECT status, quantity FROM orders ORDER BY id")
    assert orders == [
        {"status": "expired", "quantity": 1},
        {"status": "pending", "quantity": 2},
    ]

    # An answer later than Telegram waits: the payment is cancelled, nothing is recorded.
    telegram.payments.pre_checkout_seconds = 0.0
    (second,) = [c for c in telegram.calls_to("sendInvoice") if after(c)]
    late = await telegram.pay(ada, second.response["result"])
    assert late.outcome == "expired"

    def answered_late() -> list[ApiCall]:
        return [c for c in telegram.calls_to("answerPreCheckoutQuery") if c.status == 400]

    await telegram.wait_until(lambda: bool(answered_late()))
    assert "query is too old" in answered_late()[0].response["description"]
    assert rows(database(goods_shop), "SELECT * FROM star_payments") == []
    assert rows(database(goods_shop), "SELECT status FROM orders ORDER BY id")[1] == {
        "status": "pending"
    }


async def test_full_refunds_of_both_rails_take_the_access_back(
    goods_shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    owner = telegram.user(ADMIN_ID, "Owner")
    starry, carded = telegram.user(5401, "Starry"), telegram.user(5402, "Carded")
    after = from_now_on(telegram)
    payment = await pay_in_stars(telegram, starry, "Members club")
    await pay_by_card(telegram, stripe_api, carded, "Card club")
    for buyer in (starry, carded):
        invite = await delivered(telegram, buyer, after, "sendMessage")
        link = next(word for word in invite["text"].split() if word.startswith("https://t.me/+"))
        telegram.groups.join(buyer, link)
    assert telegram.groups.members(GROUP_ID) == {starry.id, carded.id}
    db = database(goods_shop)
    by_product = {
        row["product_id"]: row["id"] for row in rows(db, "SELECT id, product_id FROM orders")
    }

    # Stars are refunded whole only, through Telegram.
    stars_ref = reference_for(by_product["club"])
    part = await ask(telegram, owner, f"/refund {stars_ref} 50")
    assert "whole only" in part["text"] and buttons(part) == []
    ended = await confirm(telegram, owner, await ask(telegram, owner, f"/refund {stars_ref}"))
    assert "Refunded in Telegram Stars" in ended["text"]
    (refund,) = telegram.calls_to("refundStarPayment")
    assert refund.params["user_id"] == starry.id
    assert payment.charge.refunded

    # By card, through Stripe, whose refund event applies it.
    card_ref = reference_for(by_product["club-card"])
    await confirm(telegram, owner, await ask(telegram, owner, f"/refund {card_ref}"))

    for buyer, back in ((starry, "Telegram Stars balance"), (carded, "on its way back")):
        told = await telegram.wait_for(
            "sendMessage", lambda c, b=buyer: to(b)(c) and "access" in c.params["text"]
        )
        assert "no longer works" in told[0].params["text"]
        refunded = await telegram.wait_for(
            "sendMessage", lambda c, b=buyer, t=back: to(b)(c) and t in c.params["text"]
        )
        assert refunded
    assert telegram.groups.members(GROUP_ID) == set()
    # Telegram's refunded_payment note is taken silently, never answered as unknown input.
    assert not [
        c for c in telegram.calls_to("sendMessage") if "did not understand" in c.params["text"]
    ]
    assert all(link.is_revoked for link in telegram.groups.links(GROUP_ID))
    assert len(telegram.calls_to("banChatMember")) == 2
    statuses = rows(db, "SELECT status FROM orders ORDER BY id")
    assert statuses == [{"status": "refunded"}, {"status": "refunded"}]
    (star_row,) = rows(db, "SELECT refunded_at FROM star_payments")
    assert star_row["refunded_at"] is not None
    # Refunded once: a second /refund has nothing left to refund.
    # The card refund's notice to the owner, who asked for it, may come after this ask.
    again = await ask(telegram, owner, f"/refund {stars_ref}", holding=f"#{stars_ref}")
    assert "nothing to refund" in again["text"]
    assert len(telegram.calls_to("refundStarPayment")) == 1


async def test_a_delivery_that_never_went_out_is_sent_once_after_a_restart(
    make_settings: Callable[..., Settings],
    catalog_file: Path,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
) -> None:
    """The payment's transaction queued the code; Telegram was down until the process
    stopped. The next start sends it, once, with the code taken once."""
    settings = make_settings(catalog_file=catalog_file)
    ada = telegram.user(5501, "Ada")
    async with Service(settings, load_catalog(catalog_file), outbox_delays=QUICK_RETRIES) as shop:
        stripe_api.webhook_url = f"{shop.http_url}/stripe/webhook"
        card = await open_card(telegram, ada, "Card key")
        after = from_now_on(telegram)
        await telegram.tap(ada, card, button_with(card, "buy:")["callback_data"])
        session = session_behind(
            stripe_api, await next_message(telegram, ada, with_buttons="url", after=after)
        )
        telegram.outage = True
        assert (await stripe_api.pay(session["id"])).status == 200
        # Paid, and its delivery queued with it; the sender has tried and failed.
        await until(lambda: bool(rows(database(shop), "SELECT id FROM outbox WHERE attempts > 0")))
    telegram.outage = False
    assert rows(database(shop), "SELECT status FROM orders") == [{"status": "paid"}]
    async with Service(settings, load_catalog(catalog_file), outbox_delays=QUICK_RETRIES) as again:
        stripe_api.webhook_url = f"{again.http_url}/stripe/webhook"
        await telegram.wait_for(
            "sendMessage", lambda c: to(ada)(c) and "CARD-CCCC-3333" in c.params["text"], timeout=10
        )
    sent = [
        call
        for call in telegram.calls_to("sendMessage")
        if call.status == 200 and "CARD-CCCC-3333" in call.params.get("text", "")
    ]
    assert len(sent) == 1
    taken = rows(database(shop), "SELECT order_id FROM key_codes WHERE order_id IS NOT NULL")
    assert len(taken) == 1


async def test_a_cart_in_stars_is_paid_with_one_invoice_and_each_product_delivered(
    goods_shop: Service, telegram: TelegramEmulator
) -> None:
    ada = telegram.user(5601, "Ada")
    await add_to_cart(telegram, ada, "Notes")
    await add_to_cart(telegram, ada, "Licence key")
    cart = await open_cart(telegram, ada)
    after = from_now_on(telegram)
    await telegram.tap(ada, cart, "checkout")
    (call,) = await telegram.wait_for("sendInvoice", after)
    # Telegram takes one price in Stars: the cart's total.
    lines = rows(database(goods_shop), "SELECT unit_amount, quantity FROM order_lines")
    total = sum(line["unit_amount"] * line["quantity"] for line in lines)
    assert [price["amount"] for price in call.params["prices"]] == [total]
    after = from_now_on(telegram)
    payment = await telegram.pay(ada, call.response["result"])
    assert payment.outcome == "paid"
    sent = await telegram.wait_for(
        "sendMessage", lambda c: after(c) and to(ada)(c) and "order #" in c.params["text"], count=2
    )
    texts = [c.params["text"] for c in sent]
    assert sum("Payment received" in text for text in texts) == 1
    assert any("https://example.com/notes" in text for text in texts)
    assert any(CODES[0] in text for text in texts)
    assert cart_rows(database(goods_shop), ada.id) == []
