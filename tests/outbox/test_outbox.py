"""Confirmations survive Telegram failing: kept in the outbox, retried, set aside when hopeless."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot

from bot.catalog.model import Catalog
from bot.outbox.notices import Notices
from bot.outbox.pace import Pace
from bot.outbox.sender import OutboxSender, RetryDelays
from bot.service import Service
from bot.settings import Settings
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TelegramEmulator
from storage import MessageKind, SQLiteStorage
from tests.helpers import (
    ADMIN_ID,
    from_now_on,
    link_stored,
    new_order,
    next_message,
    open_order,
    paid_event,
    rows,
    session_behind,
    tap_product,
    until,
    write_directly,
)


async def test_a_confirmation_waits_out_an_outage_and_arrives_once(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    ada = telegram.user(4242, "Ada")
    session = session_behind(stripe_api, await tap_product(telegram, ada, "The Forest Hiker"))

    telegram.outage = True
    failed_before = len(telegram.calls_to("sendMessage"))
    assert (await stripe_api.pay(session["id"])).status == 200
    # The sender tried during the outage and was refused.
    await telegram.wait_until(
        lambda: any(c.status == 502 for c in telegram.calls_to("sendMessage")[failed_before:])
    )
    (pending,) = rows(shop.settings.database_path, "SELECT * FROM outbox")
    assert pending["sent_at"] is None and pending["given_up_at"] is None

    after = from_now_on(telegram)
    telegram.outage = False
    await next_message(telegram, ada, text="Payment received", after=after, timeout=10)
    await shop.stop()  # lets the sender record the send it just made
    (sent,) = rows(shop.settings.database_path, "SELECT * FROM outbox")
    assert sent["sent_at"] is not None and sent["attempts"] >= 2
    confirmations = [m for m in telegram.messages_to(ada.id) if "Payment received" in m["text"]]
    assert len(confirmations) == 1


async def test_a_buyer_who_blocked_the_bot_is_not_retried(
    make_settings: Callable[..., Settings],
    catalog: Catalog,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    seconds_per_chat: float,
) -> None:
    settings = make_settings()
    async with Service(settings, catalog, seconds_per_chat=seconds_per_chat) as shop:
        stripe_api.webhook_url = f"{shop.http_url}/stripe/webhook"
        ada = telegram.user(4242, "Ada")
        session = session_behind(stripe_api, await tap_product(telegram, ada, "The Forest Hiker"))
        telegram.block(ada.id)
        assert (await stripe_api.pay(session["id"])).status == 200
        await telegram.wait_until(
            lambda: any(c.status == 403 for c in telegram.calls_to("sendMessage"))
        )
    # Stopping lets the send in flight finish and its outcome be recorded.
    (message,) = rows(settings.database_path, "SELECT * FROM outbox")
    assert message["given_up_at"] is not None and message["sent_at"] is None
    assert "blocked" in message["last_error"]
    (order,) = rows(settings.database_path, "SELECT status FROM orders")
    assert order["status"] == "paid"
    assert len([c for c in telegram.calls_to("sendMessage") if c.status == 403]) == 1


def test_backoff_doubles_up_to_five_minutes() -> None:
    assert [RetryDelays().backoff(n) for n in range(4)] == [1, 2, 4, 8]
    assert RetryDelays().backoff(30) == 300


def outbox_errors(caplog: pytest.LogCaptureFixture) -> int:
    return sum(
        1 for r in caplog.records if r.name == "bot.outbox.sender" and r.levelno >= logging.ERROR
    )


async def test_a_confirmation_whose_sending_cannot_be_recorded_is_not_sent_again(
    shop: Service,
    telegram: TelegramEmulator,
    stripe_api: StripeEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The disk fills between the claim and the record (reads work, writes fail): the sender
    must remember what Telegram took. (Full before the claim, nothing is sent at all.)"""
    ada = telegram.user(4242, "Ada")
    database = shop.settings.database_path
    pay_message = await tap_product(telegram, ada, "The Forest Hiker")
    await until(link_stored(database))
    session = session_behind(stripe_api, pay_message)
    # Recording a send fails from now on; the payment itself only inserts, and the claim and
    # its renewals set no sent_at.
    disk_full = (
        "CREATE TRIGGER disk_full BEFORE UPDATE OF sent_at ON outbox"
        " BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END"
    )
    await until(schema_changed(database, disk_full))
    after = from_now_on(telegram)
    assert (await stripe_api.pay(session["id"])).status == 200
    await next_message(telegram, ada, text="Payment received", after=after, timeout=10)
    # The first record failed when it was sent, the second when it was tried again.
    await until(lambda: outbox_errors(caplog) >= 2, timeout=15)

    await until(schema_changed(database, "DROP TRIGGER disk_full"))
    await until(
        lambda: bool(rows(database, "SELECT id FROM outbox WHERE sent_at IS NOT NULL")),
        timeout=15,
    )
    confirmations = [m for m in telegram.messages_to(ada.id) if "Payment received" in m["text"]]
    assert len(confirmations) == 1


def schema_changed(database: Path, statement: str) -> Callable[[], bool]:
    """A try at a schema change while the bot writes: false if the database was locked. A
    change begun on a snapshot the bot's next write made stale waits out its whole busy
    timeout in vain ("database is locked"); a new try reads the database afresh."""

    def attempt() -> bool:
        with closing(sqlite3.connect(database, timeout=0.05)) as db:
            try:
                db.execute(statement)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc):
                    raise
                return False
            db.commit()
        return True

    return attempt


async def test_a_stale_processing_notice_never_follows_the_payment_confirmation(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """Each row retries on its own backoff, so "being processed" could come after "received"."""
    ada = telegram.user(4242, "Ada")
    database = shop.settings.database_path
    pay_message = await tap_product(telegram, ada, "The Forest Hiker")
    await until(link_stored(database))
    session = session_behind(stripe_api, pay_message)

    telegram.outage = True
    await stripe_api.complete_unpaid(session["id"])

    def failed_sends() -> int:
        return len(
            [
                c
                for c in telegram.calls_to("sendMessage")
                if c.status == 502 and str(c.params.get("chat_id")) == str(ada.id)
            ]
        )

    # "Being processed" failed twice and waits for its next try; meanwhile the payment goes
    # through (queued behind it), and then Telegram is back.
    await telegram.wait_until(lambda: failed_sends() >= 2, timeout=10)
    await stripe_api.async_payment_succeeded(session["id"])
    telegram.outage = False
    await telegram.wait_for(
        "sendMessage", lambda c: "Payment received" in c.params.get("text", ""), timeout=10
    )

    def processing_notice() -> dict[str, Any]:
        (row,) = rows(database, "SELECT * FROM outbox WHERE kind = 'payment_processing'")
        return row

    await until(lambda: processing_notice()["given_up_at"] is not None, timeout=10)
    assert processing_notice()["last_error"] == "nothing to say any more"
    texts = [
        c.params["text"]
        for c in telegram.calls_to("sendMessage")
        if c.status == 200 and str(c.params.get("chat_id")) == str(ada.id)
    ]
    received = max(i for i, text in enumerate(texts) if "Payment received" in text)
    assert [text for text in texts[received:] if "being processed" in text] == []


@pytest.mark.flood_limits
async def test_a_busy_chat_does_not_hold_back_other_buyers_confirmations(
    shop: Service, telegram: TelegramEmulator, stripe_api: StripeEmulator
) -> None:
    """An owner with /alerts on gets an alert a second; a buyer paying meanwhile must not wait."""
    owner = telegram.user(ADMIN_ID, "Owner")
    after = from_now_on(telegram)
    await telegram.send_text(owner, "/alerts on")
    await next_message(telegram, owner, text="Sale alerts on", after=after)

    buyers = [telegram.user(7000 + n, f"Buyer {n}") for n in range(7)]
    sessions = [(await open_order(shop, telegram, stripe_api, b))[1] for b in buyers]
    late = telegram.user(7100, "Late")
    _, late_session = await open_order(shop, telegram, stripe_api, late)

    def paid(session: dict[str, Any], number: int, **changes: Any) -> dict[str, Any]:
        return paid_event(stripe_api, session, payment_intent=f"pi_test_burst_{number}", **changes)

    def sent(chat_id: int, fragment: str) -> list[int]:
        """Indexes in telegram.calls of the messages to a chat that hold a fragment."""
        return [
            i
            for i, c in enumerate(telegram.calls)
            if c.method == "sendMessage"
            and c.status == 200
            and str(c.params.get("chat_id")) == str(chat_id)
            and fragment in c.params.get("text", "")
        ]

    # A first sale the owner hears of twice (its amount is odd: flagged), then six at once.
    assert (await stripe_api.deliver(paid(sessions[0], 0, amount_total=100))).status == 200
    burst = await stripe_api.deliver_all(
        [paid(s, n) for n, s in enumerate(sessions[1:], 1)], shuffle=False
    )
    assert all(d.status == 200 for d in burst)
    await telegram.wait_until(lambda: len(sent(ADMIN_ID, "Sale:")) >= 3, timeout=10)
    assert (await stripe_api.pay(late_session["id"])).status == 200

    await telegram.wait_until(
        lambda: len(sent(ADMIN_ID, "Sale:")) == 7 and bool(sent(late.id, "Payment received")),
        timeout=15,
    )
    assert sent(late.id, "Payment received")[0] < sent(ADMIN_ID, "Sale:")[-1]
    assert telegram.too_many_requests == 0  # the alerts were paced, not refused and retried


async def test_the_sender_outlives_an_error_it_did_not_expect(
    telegram: TelegramEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing would be sent until a restart if the sender's task died of one odd error."""
    database = tmp_path / "shop.db"
    ada = telegram.user(4242, "Ada")
    async with (
        SQLiteStorage(database) as store,
        Bot(telegram.token, base_url=telegram.base_url) as bot,
    ):
        order = await store.create_order_within_stock(new_order(user_id=ada.id), stock={})
        # A kind of message this version does not know (a newer one queued it) cannot be read.
        await write_directly(
            database,
            "INSERT INTO outbox (chat_id, kind, created_at, next_attempt_at)"
            " VALUES (?, 'gift_card', 0, 0)",
            (ada.id,),
        )
        sender = OutboxSender(store, bot, Notices(store).compose, pace=Pace(store, per_second=30))
        sender.start()
        try:
            await until(lambda: outbox_errors(caplog) >= 1)
            await write_directly(database, "DELETE FROM outbox WHERE kind = 'gift_card'")
            async with store.transaction() as tx:
                await tx.enqueue(ada.id, MessageKind.PAYMENT_RECEIVED, order.id)
            sender.notify()
            await telegram.wait_for("sendMessage", timeout=10)
        finally:
            await sender.stop()
    assert "Payment received" in telegram.messages_to(ada.id)[0]["text"]
