"""The Telegram emulator's Stars payments, invite links and member removal, driven by PTB."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, LabeledPrice, Update
from telegram.error import BadRequest

from sandbox.telegram_api import TelegramEmulator

BUYER_ID = 42
GROUP_ID = -1001234567890


@pytest.fixture
async def emulator() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator() as emulator:
        emulator.user(BUYER_ID, "Ada")
        yield emulator


@pytest.fixture
async def bot(emulator: TelegramEmulator) -> AsyncIterator[Bot]:
    async with Bot(emulator.token, base_url=emulator.base_url) as bot:
        yield bot


async def invoice(bot: Bot, **changes: object) -> object:
    params: dict[str, object] = {
        "chat_id": BUYER_ID,
        "title": "Key",
        "description": "A licence key",
        "payload": "order-K7Q2",
        "currency": "XTR",
        "prices": [LabeledPrice("Key", 150)],
    }
    return await bot.send_invoice(**(params | changes))  # type: ignore[arg-type]


async def next_update(bot: Bot, offset: int = 0) -> Update:
    [update] = await bot.get_updates(offset=offset, timeout=5, limit=1)
    return update


async def test_an_invoice_in_stars_is_sent_with_its_total(bot: Bot) -> None:
    message = await invoice(bot)
    assert message.invoice is not None  # type: ignore[attr-defined]
    assert message.invoice.currency == "XTR"  # type: ignore[attr-defined]
    assert message.invoice.total_amount == 150  # type: ignore[attr-defined]


# Each change to a valid invoice, and Telegram's answer to it.
REFUSED_INVOICES: list[tuple[dict[str, object], str]] = [
    ({"title": "x" * 33}, "TITLE_INVALID"),
    ({"description": "d" * 256}, "DESCRIPTION_INVALID"),
    ({"payload": "é" * 65}, "INVOICE_PAYLOAD_INVALID"),  # 130 bytes in 65 characters
    ({"prices": [LabeledPrice("Key", 100), LabeledPrice("Tip", 50)]}, "STARS_INVOICE_INVALID"),
    ({"provider_token": "284685063:TEST:emulated"}, "STARS_INVOICE_INVALID"),
    ({"prices": [LabeledPrice("Key", 0)]}, "CURRENCY_TOTAL_AMOUNT_INVALID"),
    ({"currency": "EUR"}, "PAYMENT_PROVIDER_INVALID"),
]


async def test_an_invoice_beyond_telegrams_limits_is_refused(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    for changes, error in REFUSED_INVOICES:
        with pytest.raises(BadRequest, match=rf"(?i){error}"):
            await invoice(bot, **changes)
    assert emulator.messages_to(BUYER_ID) == []
    assert emulator.payments.invoices == {}


async def test_limits_are_inclusive(bot: Bot) -> None:
    message = await invoice(bot, title="t" * 32, description="d" * 255, payload="p" * 128)
    assert message.invoice.title == "t" * 32  # type: ignore[attr-defined]


async def test_a_payment_asks_the_bot_then_reports_the_charge(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    message = await invoice(bot)
    buyer = emulator.user(BUYER_ID, "Ada")
    paying = asyncio.create_task(emulator.pay(buyer, message.to_dict()))  # type: ignore[attr-defined]
    query = (await next_update(bot)).pre_checkout_query
    assert query is not None
    assert (query.currency, query.total_amount, query.invoice_payload) == ("XTR", 150, "order-K7Q2")
    assert await bot.answer_pre_checkout_query(query.id, ok=True)
    payment = await paying
    assert payment.outcome == "paid"
    assert payment.charge is not None
    update = await next_update(bot, offset=2)
    assert update.message is not None
    paid = update.message.successful_payment
    assert paid is not None
    assert paid.telegram_payment_charge_id == payment.charge.telegram_payment_charge_id
    assert (paid.currency, paid.total_amount, paid.invoice_payload) == ("XTR", 150, "order-K7Q2")


async def test_a_refused_pre_checkout_makes_no_payment(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    message = await invoice(bot)
    paying = asyncio.create_task(emulator.pay(emulator.user(BUYER_ID), message.to_dict()))  # type: ignore[attr-defined]
    query = (await next_update(bot)).pre_checkout_query
    assert query is not None
    with pytest.raises(BadRequest, match=r"(?i)ERROR_MESSAGE_EMPTY"):
        await bot.answer_pre_checkout_query(query.id, ok=False)
    assert await bot.answer_pre_checkout_query(query.id, ok=False, error_message="Sold out")
    payment = await paying
    assert (payment.outcome, payment.error_message) == ("refused", "Sold out")
    assert emulator.payments.charges == {}
    assert await bot.get_updates(offset=2, timeout=0) == ()


async def test_an_answer_after_the_deadline_is_too_late(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    emulator.payments.pre_checkout_seconds = 0.05
    message = await invoice(bot)
    payment = await emulator.pay(emulator.user(BUYER_ID), message.to_dict())  # type: ignore[attr-defined]
    assert payment.outcome == "expired"
    query = (await next_update(bot)).pre_checkout_query
    assert query is not None
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_pre_checkout_query(query.id, ok=True)
    assert emulator.payments.charges == {}


async def test_a_star_payment_is_refunded_once(bot: Bot, emulator: TelegramEmulator) -> None:
    message = await invoice(bot)
    paying = asyncio.create_task(emulator.pay(emulator.user(BUYER_ID), message.to_dict()))  # type: ignore[attr-defined]
    query = (await next_update(bot)).pre_checkout_query
    assert query is not None
    await bot.answer_pre_checkout_query(query.id, ok=True)
    charge = (await paying).charge
    assert charge is not None
    with pytest.raises(BadRequest, match=r"(?i)CHARGE_NOT_FOUND"):
        await bot.refund_star_payment(BUYER_ID + 1, charge.telegram_payment_charge_id)
    assert not charge.refunded
    assert await bot.refund_star_payment(BUYER_ID, charge.telegram_payment_charge_id)
    assert charge.refunded
    # Telegram tells the chat, and the bot, with a service message.
    [told] = await bot.get_updates(offset=3, timeout=5)
    assert told.message is not None and told.message.refunded_payment is not None
    assert told.message.refunded_payment.telegram_payment_charge_id == (
        charge.telegram_payment_charge_id
    )
    with pytest.raises(BadRequest, match=r"(?i)CHARGE_ALREADY_REFUNDED"):
        await bot.refund_star_payment(BUYER_ID, charge.telegram_payment_charge_id)


async def test_a_one_person_invite_link_lets_one_person_in_until_revoked(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    emulator.groups.add(GROUP_ID, "Members")
    link = await bot.create_chat_invite_link(GROUP_ID, member_limit=1, name="order K7Q2")
    assert (link.member_limit, link.name, link.is_revoked) == (1, "order K7Q2", False)
    emulator.groups.join(emulator.user(BUYER_ID), link.invite_link)
    with pytest.raises(ValueError, match=r"(?i)USERS_TOO_MUCH"):
        emulator.groups.join(emulator.user(BUYER_ID + 1), link.invite_link)
    assert emulator.groups.members(GROUP_ID) == {BUYER_ID}
    revoked = await bot.revoke_chat_invite_link(GROUP_ID, link.invite_link)
    assert revoked.is_revoked
    assert await bot.ban_chat_member(GROUP_ID, BUYER_ID)
    assert await bot.unban_chat_member(GROUP_ID, BUYER_ID, only_if_banned=True)
    assert emulator.groups.members(GROUP_ID) == set()
    other = await bot.create_chat_invite_link(GROUP_ID, member_limit=1)
    await bot.revoke_chat_invite_link(GROUP_ID, other.invite_link)
    with pytest.raises(ValueError, match=r"(?i)INVITE_HASH_EXPIRED"):
        emulator.groups.join(emulator.user(BUYER_ID), other.invite_link)


async def test_invite_links_keep_telegrams_limits(bot: Bot, emulator: TelegramEmulator) -> None:
    emulator.groups.add(GROUP_ID, "Members")
    for limit in (0, 100_000):
        with pytest.raises(BadRequest, match=r"(?i)member_limit"):
            await bot.create_chat_invite_link(GROUP_ID, member_limit=limit)
    with pytest.raises(BadRequest, match=r"(?i)too long"):
        await bot.create_chat_invite_link(GROUP_ID, member_limit=1, name="n" * 33)
    assert emulator.groups.links(GROUP_ID) == []


async def test_a_bot_that_is_not_admin_cannot_invite_or_remove(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    emulator.groups.add(GROUP_ID, "Members", bot_is_admin=False)
    with pytest.raises(BadRequest, match=r"(?i)not enough rights"):
        await bot.create_chat_invite_link(GROUP_ID, member_limit=1)
    with pytest.raises(BadRequest, match=r"(?i)not enough rights"):
        await bot.ban_chat_member(GROUP_ID, BUYER_ID)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.create_chat_invite_link(GROUP_ID - 1, member_limit=1)


async def test_a_document_is_uploaded_once_and_sent_again_by_file_id(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    first = await bot.send_document(BUYER_ID, b"%PDF-1.4 guide", filename="guide.pdf")
    assert first.document is not None
    again = await bot.send_document(BUYER_ID, first.document.file_id)
    assert again.document is not None
    assert again.document.file_id == first.document.file_id
    assert [name for name, _ in emulator.documents_to(BUYER_ID)] == ["guide.pdf", "guide.pdf"]
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_document(BUYER_ID, "BQACAgIAAxkBAAIBnotAfile")


async def test_a_form_opened_before_the_invoice_is_deleted_can_still_be_paid(
    bot: Bot, emulator: TelegramEmulator
) -> None:
    message = (await invoice(bot)).to_dict()  # type: ignore[attr-defined]
    buyer = emulator.user(BUYER_ID, "Ada")
    form = emulator.payments.open_form(buyer, message)
    await bot.delete_message(BUYER_ID, message["message_id"])
    with pytest.raises(ValueError, match="invoice in the user's chat"):
        emulator.payments.open_form(buyer, message)
    paying = asyncio.create_task(form.confirm())
    query = (await next_update(bot)).pre_checkout_query
    assert query is not None and query.invoice_payload == "order-K7Q2"
    await bot.answer_pre_checkout_query(query.id, ok=True)
    assert (await paying).outcome == "paid"
