"""The outbox and the bot's own cap (TELEGRAM_MESSAGES_PER_SECOND) keep to Telegram's flood
limits, instead of running into 429s."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from telegram import Bot

from bot.catalog.model import Catalog
from bot.outbox.notices import Outgoing
from bot.outbox.pace import Pace
from bot.outbox.sender import OutboxSender, RetryDelays
from bot.service import Service
from bot.settings import Settings
from sandbox.telegram_api import RateLimits, TelegramEmulator
from storage import MessageKind, OutboxMessage, SQLiteStorage, Storage
from storage.send_slots import SlotBook, SlotGrid
from tests.helpers import ADMIN_ID, ask, new_order, rows

# The emulator records when each request arrives. On a loaded machine (tests in parallel, other
# processes) the event loop can be held up: a send then arrives later than its turn in the
# pace, while the one after it may not, and the sends held up together arrive together. The
# timings asserted here leave this much room for it; the faults they catch are far larger
# (sends that take turns which passed meanwhile: a chat's two messages 0.5 s apart, 38 in a
# second).
ARRIVAL_SLACK = 0.15
# Telegram's rates, with less room for bursts than Telegram gives: a sender that does not pace
# itself is refused at once (a burst of six or more), one that keeps the pace never is, even
# when the sends of ARRIVAL_SLACK seconds arrive together.
STRICT = RateLimits(global_per_second=30, global_burst=5, per_chat_per_second=1, per_chat_burst=2)
# Every test here is about Telegram's limits: the `telegram` fixture enforces them.
pytestmark = pytest.mark.flood_limits(STRICT)
BUYERS = [5001, 5002, 5003, 5004, 5005, 5006]
REGULAR = 5001  # pays for three orders at once


def telegrams_pace(store: Storage) -> Pace:
    """The outbox's pace at Telegram's 30 messages a second, TELEGRAM_MESSAGES_PER_SECOND's
    default."""
    return Pace(store, per_second=30)


async def compose(message: OutboxMessage) -> Outgoing:
    return Outgoing(f"Payment received — order {message.order_id}")


async def test_a_burst_of_confirmations_is_paced_without_a_single_429(
    telegram: TelegramEmulator, tmp_path: Path
) -> None:
    database = tmp_path / "shop.db"
    chats = [*BUYERS, REGULAR, REGULAR]
    async with (
        SQLiteStorage(database) as store,
        Bot(telegram.token, base_url=telegram.base_url) as bot,
    ):
        for chat_id in chats:
            telegram.user(chat_id)
            order = await store.create_order_within_stock(new_order(user_id=chat_id), stock={})
            async with store.transaction() as tx:
                await tx.enqueue(chat_id, MessageKind.PAYMENT_RECEIVED, order.id)
        sender = OutboxSender(store, bot, compose, pace=telegrams_pace(store))
        sender.start()
        try:
            await telegram.wait_for("sendMessage", count=len(chats), timeout=10)
        finally:
            await sender.stop()
        sent = rows(database, "SELECT * FROM outbox WHERE sent_at IS NOT NULL")
    assert telegram.too_many_requests == 0
    assert len(sent) == len(chats)
    delivered = Counter(call.params["chat_id"] for call in telegram.calls_to("sendMessage"))
    assert delivered == Counter(chats)


async def test_a_busy_chat_gets_a_message_a_second_while_the_others_go_between(
    telegram: TelegramEmulator, tmp_path: Path
) -> None:
    """An owner's sale alerts queue a second apart; the buyers' messages must not queue behind."""
    database = tmp_path / "shop.db"
    owner, buyer = 6001, 6002
    async with (
        SQLiteStorage(database) as store,
        Bot(telegram.token, base_url=telegram.base_url) as bot,
    ):
        for chat_id in (owner, buyer):
            telegram.user(chat_id)
        order = await store.create_order_within_stock(new_order(user_id=buyer), stock={})
        async with store.transaction() as tx:
            for _ in range(6):
                await tx.enqueue(owner, MessageKind.ALERT_PAID, order.id)
        sender = OutboxSender(store, bot, compose, pace=telegrams_pace(store))
        sender.start()
        try:
            await telegram.wait_for("sendMessage", lambda c: c.params["chat_id"] == owner, count=2)
            async with store.transaction() as tx:
                await tx.enqueue(buyer, MessageKind.PAYMENT_RECEIVED, order.id)
            sender.notify()
            await telegram.wait_for("sendMessage", count=7, timeout=10)
        finally:
            await sender.stop()
    calls = telegram.calls_to("sendMessage")
    assert [c.params["chat_id"] for c in calls].index(buyer) < 4
    assert telegram.too_many_requests == 0


# Every reservation is asked for at the same instant.
STOPPED = 1000.0


def test_a_chat_waiting_for_its_second_leaves_the_slots_before_it_to_other_chats() -> None:
    """Taking a slot a second ahead for one chat must not push every other chat behind it."""
    book, grid = SlotBook(), SlotGrid(per_second=30, seconds_per_chat=1)
    waits = [book.reserve(6001, STOPPED, grid) - STOPPED for _ in range(3)]
    assert waits == pytest.approx([0.0, 1.0, 2.0])
    others = [book.reserve(chat, STOPPED, grid) - STOPPED for chat in range(7001, 7011)]
    assert others == pytest.approx([n / 30 for n in range(1, 11)])


@pytest.mark.parametrize(
    ("per_second", "apart", "chats_second"),
    [(30, 1 / 30, 1.0), (1000, 0.001, 1.0), (0.5, 2.0, 2.0), (0, 0.0, 1.0)],
    ids=["Telegram's 30", "1000", "one every 2 s", "no cap"],
)
def test_the_pace_keeps_the_cap_it_is_given_and_each_chats_second(
    per_second: float, apart: float, chats_second: float
) -> None:
    """Messages to different chats go `apart` (none when there is no cap); a chat's next
    message waits its second, or the first slot after it."""
    book, grid = SlotBook(), SlotGrid(per_second)
    assert [book.reserve(chat, STOPPED, grid) - STOPPED for chat in range(7001, 7011)] == (
        pytest.approx([n * apart for n in range(10)])
    )
    assert book.reserve(7001, STOPPED, grid) - STOPPED == pytest.approx(
        max(chats_second, 10 * apart)
    )


async def test_stopping_leaves_the_messages_still_waiting_for_their_slot_queued(
    telegram: TelegramEmulator, tmp_path: Path
) -> None:
    database = tmp_path / "shop.db"
    telegram.user(REGULAR)
    async with (
        SQLiteStorage(database) as store,
        Bot(telegram.token, base_url=telegram.base_url) as bot,
    ):
        for _ in range(3):  # one chat: a second apart
            order = await store.create_order_within_stock(new_order(user_id=REGULAR), stock={})
            async with store.transaction() as tx:
                await tx.enqueue(REGULAR, MessageKind.PAYMENT_RECEIVED, order.id)
        sender = OutboxSender(store, bot, compose, pace=telegrams_pace(store))
        sender.start()
        await telegram.wait_for("sendMessage")
        await sender.stop()
        waiting = rows(database, "SELECT * FROM outbox WHERE sent_at IS NULL")
        assert len(waiting) == 3 - len(telegram.calls_to("sendMessage")) > 0
        assert all(row["attempts"] == 0 and row["given_up_at"] is None for row in waiting)

        sender.start()  # the next start sends them
        await telegram.wait_for("sendMessage", count=3, timeout=10)
        await sender.stop()
    assert len(rows(database, "SELECT * FROM outbox WHERE sent_at IS NOT NULL")) == 3
    assert telegram.too_many_requests == 0


async def test_a_429_is_waited_out_exactly_as_long_as_telegram_says(tmp_path: Path) -> None:
    """Telegram can be stricter than the pace (a shared bot, a flood wait): its retry_after
    is obeyed to the second, and every message still arrives once."""
    # One message every 2 s: Telegram says "retry after 2", longer than the sender's first
    # backoff (1 s), so a sender that merely backed off would come back too early.
    every_two_seconds = RateLimits(global_per_second=0.5, global_burst=1, per_chat_per_second=None)
    async with (
        TelegramEmulator(rate_limits=every_two_seconds) as telegram,
        SQLiteStorage(tmp_path / "shop.db") as store,
        Bot(telegram.token, base_url=telegram.base_url) as bot,
    ):
        for chat_id in BUYERS[:3]:
            telegram.user(chat_id)
            order = await store.create_order_within_stock(new_order(user_id=chat_id), stock={})
            async with store.transaction() as tx:
                await tx.enqueue(chat_id, MessageKind.PAYMENT_RECEIVED, order.id)
        sender = OutboxSender(store, bot, compose, pace=telegrams_pace(store))
        sender.start()
        try:
            await telegram.wait_for("sendMessage", count=3, timeout=10)
        finally:
            await sender.stop()
        calls = telegram.calls_to("sendMessage")
        refused = [call for call in calls if call.status == 429]
        assert refused, "the emulator's limit must have refused a send"
        for call in refused:
            told = call.response["parameters"]["retry_after"]
            assert told >= 2
            chat = call.params["chat_id"]
            (next_try,) = [c for c in calls if c.params["chat_id"] == chat and c.at > call.at][:1]
            assert next_try.at >= call.at + told
        sent = rows(tmp_path / "shop.db", "SELECT last_error FROM outbox WHERE attempts > 1")
        assert sent and all("Retry in" in row["last_error"] for row in sent)
    assert Counter(c.params["chat_id"] for c in calls if c.status == 200) == Counter(BUYERS[:3])


async def test_a_cap_below_one_message_a_second_sends_at_that_pace(
    make_settings: Callable[..., Settings], catalog: Catalog
) -> None:
    """The answers keep a cap below one a second too (the rate limiter once used, aiolimiter's
    bucket of 0.5, never held the 1 a message takes, and the bot said nothing to anyone).
    Here Telegram allows 0.6 a second: a bot that did not keep to its 0.5 would be answered
    429, one that answered early in a slot and then at the next slot's start too."""
    slow = RateLimits(global_per_second=0.6, global_burst=1, per_chat_per_second=None)
    async with TelegramEmulator(rate_limits=slow) as telegram:
        settings = make_settings(
            telegram_bot_token=telegram.token,
            telegram_api_base_url=telegram.base_url,
            telegram_messages_per_second=0.5,
        )
        async with Service(settings, catalog):
            owner = telegram.user(ADMIN_ID, "Owner")
            for _ in range(2):
                reply = await ask(telegram, owner, "/alerts")
                assert reply["text"].startswith("Sale alerts are off")
        assert telegram.too_many_requests == 0


async def queue(store: SQLiteStorage, chat_ids: list[int]) -> None:
    for chat_id in chat_ids:
        order = await store.create_order_within_stock(new_order(user_id=chat_id), stock={})
        async with store.transaction() as tx:
            await tx.enqueue(chat_id, MessageKind.PAYMENT_RECEIVED, order.id)


@pytest.mark.parametrize(
    "per_second", [0, 1000], ids=["no cap", "a self-hosted Bot API server's 1000"]
)
async def test_the_cap_set_for_the_bot_paces_its_confirmations_too(
    make_settings: Callable[..., Settings], catalog: Catalog, per_second: float
) -> None:
    """TELEGRAM_MESSAGES_PER_SECOND is the one pace of everything the bot sends: 0 turns it off,
    1000 allows 1000 a second, for confirmations as for answers. An outbox that kept to
    Telegram's 30 a second takes (count - 1) / 30 seconds to send these confirmations,
    queued before the start, one to each chat; without that pace they take a fraction of it
    (here the bound leaves a whole second to a loaded machine)."""
    chats = list(range(9000, 9150))
    async with TelegramEmulator() as telegram:  # a Bot API server with no flood limits
        settings = make_settings(
            telegram_bot_token=telegram.token,
            telegram_api_base_url=telegram.base_url,
            telegram_messages_per_second=per_second,
        )
        async with SQLiteStorage(settings.database_path) as store:
            await queue(store, chats)
        for chat_id in chats:
            telegram.user(chat_id)
        async with Service(settings, catalog):
            sent = await telegram.wait_for("sendMessage", count=len(chats), timeout=30)
        arrivals = sorted(call.at for call in sent)
        assert sorted(int(call.params["chat_id"]) for call in sent) == chats
        assert arrivals[-1] - arrivals[0] < (len(chats) - 1) / 30 - 1.0


async def test_sends_held_up_before_their_turn_do_not_bunch_up_afterwards(
    telegram: TelegramEmulator, tmp_path: Path
) -> None:
    """Seven sends slow to compose (a busy database) take seven of the eight places; when they
    go on, they must take fresh turns in the pace, not the ones that passed meanwhile."""
    regular = 8000
    held = [regular, *range(8001, 8007)]
    others = list(range(8100, 8150))
    for chat_id in [*held, *others]:
        telegram.user(chat_id)
    first_of_regular: list[int] = []

    async def slow_compose(message: OutboxMessage) -> Outgoing:
        if message.chat_id in held and (message.chat_id != regular or not first_of_regular):
            if message.chat_id == regular:
                first_of_regular.append(message.id)
            # Released by what Telegram sees, not by a timer: 35 other buyers served.
            await telegram.wait_for("sendMessage", count=35, timeout=20)
        return await compose(message)

    async with (
        SQLiteStorage(tmp_path / "shop.db") as store,
        Bot(telegram.token, base_url=telegram.base_url) as bot,
    ):
        await queue(store, [*held, *others, regular])  # the regular has two messages
        sender = OutboxSender(store, bot, slow_compose, pace=telegrams_pace(store))
        sender.start()
        try:
            await telegram.wait_for("sendMessage", count=len(held) + len(others) + 1, timeout=30)
        finally:
            await sender.stop()
    calls = telegram.calls_to("sendMessage")
    to_regular = [c.at for c in calls if c.params["chat_id"] == regular and c.status == 200]
    assert len(to_regular) == 2 and to_regular[1] - to_regular[0] >= 1.0 - ARRIVAL_SLACK
    times = sorted(c.at for c in calls)
    most_in_a_second = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    # 30 turns a second, one more on the second's edge, and those of ARRIVAL_SLACK.
    assert most_in_a_second <= 30 + 1 + 30 * ARRIVAL_SLACK
    assert telegram.too_many_requests == 0


async def test_a_chats_second_message_waits_behind_its_first_after_a_failed_try(
    telegram: TelegramEmulator, tmp_path: Path
) -> None:
    """The first message meets a 502 and is due again later: the second, due now, waits."""
    buyer = 8300
    telegram.user(buyer)

    async def numbered(message: OutboxMessage) -> Outgoing:
        return Outgoing(f"message {message.id}")

    async with (
        SQLiteStorage(tmp_path / "shop.db") as store,
        Bot(telegram.token, base_url=telegram.base_url) as bot,
    ):
        await queue(store, [buyer, buyer])
        telegram.outage = True
        # A fifth of the bot's backoff: still far longer than the sender takes to pick up the
        # second message, were it not held behind the first.
        delays = RetryDelays(first=0.2)
        sender = OutboxSender(store, bot, numbered, pace=telegrams_pace(store), delays=delays)
        sender.start()
        try:
            await telegram.wait_until(
                lambda: any(c.method == "sendMessage" and c.status for c in telegram.calls)
            )
            telegram.outage = False
            await telegram.wait_for("sendMessage", count=2, timeout=10)
        finally:
            await sender.stop()
    delivered = [c.params["text"] for c in telegram.calls_to("sendMessage") if c.status == 200]
    assert delivered == ["message 1", "message 2"]
