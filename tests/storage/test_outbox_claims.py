"""The outbox's claims and send slots, on both backends: what lets several senders (replicas on
one PostgreSQL database) drain one outbox, each message sent by one of them, in each chat's
order, within one budget of Telegram's limits."""

from __future__ import annotations

import asyncio
import itertools
import time
from contextlib import AsyncExitStack

import pytest

from storage import MessageKind, Storage, is_postgres
from storage.send_slots import SlotGrid
from tests.databases import fetch, opened_storage
from tests.helpers import new_order

# Later than any message's next attempt: everything queued is due (and a Unix time, whose
# fractions a float holds to the microsecond).
T = 2_000_000_000.0
LEASE = 30.0


async def queue(store: Storage, chat_ids: list[int]) -> None:
    """One message to each chat, in this order."""
    order = await store.create_order_within_stock(new_order(), {})
    async with store.transaction() as tx:
        for chat_id in chat_ids:
            await tx.enqueue(chat_id, MessageKind.PAYMENT_RECEIVED, order.id)


async def test_a_claimed_message_is_the_claimants_until_its_lease_ends(
    store: Storage, database_url: str
) -> None:
    await queue(store, [7, 8])
    held = await store.claim_messages("a", T, T + LEASE, limit=1)
    assert [m.chat_id for m in held] == [7]
    # Another sender gets the rest, never what "a" holds, nor the same message twice.
    rest = await store.claim_messages("b", T + 1, T + 1 + LEASE, limit=10)
    assert [m.chat_id for m in rest] == [8]
    await store.mark_sent([m.id for m in rest])
    assert await store.claim_messages("b", T + LEASE - 1, T + 2 * LEASE, limit=10) == []
    assert await store.due_messages(now=T + LEASE - 1, limit=10) == []
    # "a" died with it in hand: once the lease ends, another takes it over.
    (taken_over,) = await store.claim_messages("c", T + LEASE, T + 2 * LEASE, limit=10)
    assert taken_over.id == held[0].id
    stored = await fetch(database_url, "SELECT claimed_by FROM outbox WHERE id = $1", held[0].id)
    assert stored == [{"claimed_by": "c"}]

    # A live sender renews its claim: not taken over when the first lease would have ended.
    await store.renew_claims("c", [held[0].id], until=T + 3 * LEASE)
    await store.renew_claims("b", [held[0].id], until=T)  # not b's to renew: nothing changes
    assert await store.claim_messages("b", T + 2 * LEASE, T + 3 * LEASE, limit=10) == []
    assert await store.next_attempt_at() == T + 3 * LEASE  # when another might take it
    (again,) = await store.claim_messages("b", T + 3 * LEASE, T + 4 * LEASE, limit=10)
    assert again.id == held[0].id


async def test_a_chats_next_message_waits_while_another_sender_holds_its_first(
    store: Storage,
) -> None:
    await queue(store, [7, 7, 7])
    (first,) = await store.claim_messages("a", T, T + LEASE, limit=10)
    assert await store.claim_messages("b", T + 1, T + 1 + LEASE, limit=10) == []
    await store.mark_sent([first.id])  # Telegram took it: the chat's next may go, to anyone
    (second,) = await store.claim_messages("b", T + 2, T + 2 + LEASE, limit=10)
    assert second.id > first.id
    await store.retry_later(second.id, at=T + 5, error="Bad Gateway")
    # Given back for later: nobody may send it, nor the third, before then.
    assert await store.claim_messages("a", T + 4, T + 4 + LEASE, limit=10) == []
    (again,) = await store.claim_messages("a", T + 5, T + 5 + LEASE, limit=10)
    assert (again.id, again.attempts) == (second.id, 1)

    # What a stopping sender gives back is free at once, to anyone.
    await store.release_claims("b", [again.id])  # not b's: nothing changes
    assert await store.claim_messages("b", T + 5, T + 5 + LEASE, limit=10) == []
    await store.release_claims("a", [again.id])
    (freed,) = await store.claim_messages("b", T + 5, T + 5 + LEASE, limit=10)
    assert freed.id == second.id


async def test_claims_made_at_once_never_share_a_message(database_url: str) -> None:
    """Several stores on one database (replicas), claiming together."""
    async with AsyncExitStack() as stack:
        stores = [await stack.enter_async_context(opened_storage(database_url)) for _ in range(3)]
        chats = list(range(100, 160))
        await queue(stores[0], chats)
        claims = await asyncio.gather(
            *(
                one.claim_messages(f"sender-{n}", T, T + LEASE, limit=25)
                for n, one in enumerate(stores)
                for _ in range(2)
            )
        )
    ids = [message.id for claim in claims for message in claim]
    assert len(ids) == len(set(ids)) == len(chats)


async def test_send_slots_keep_the_cap_and_each_chats_second(store: Storage) -> None:
    grid = SlotGrid(per_second=10, seconds_per_chat=1)
    starts = [await store.reserve_send_slot(chat, T, grid) for chat in (7, 8, 9, 7)]
    assert [start - T for start in starts] == pytest.approx([0.0, 0.1, 0.2, 1.0], abs=1e-6)
    # Chat 7 waits for its second; the slots before it are left to the others.
    assert await store.reserve_send_slot(10, T, grid) - T == pytest.approx(0.3, abs=1e-6)
    # Restarted with another cap, the slots taken before mean the same times: chat 7 waits
    # at most its second, not for a slot number of the other grid.
    no_cap = SlotGrid(per_second=0, seconds_per_chat=1)
    assert await store.reserve_send_slot(11, T, no_cap) == pytest.approx(T, abs=1e-6)
    assert 1.0 - 1e-6 <= await store.reserve_send_slot(11, T, grid) - T < 2.0


async def test_a_message_of_no_chat_takes_a_slot_but_keeps_no_chats_second(
    store: Storage,
) -> None:
    """The bot's answers (no chat given) share the cap with the outbox, not the chats' seconds;
    and the slot under way stays taken until it ends, for an answer may ask for it."""
    grid = SlotGrid(per_second=10, seconds_per_chat=1)
    assert await store.reserve_send_slot(7, T, grid) == pytest.approx(T, abs=1e-6)
    answers = [await store.reserve_send_slot(None, T, grid) - T for _ in range(2)]
    assert answers == pytest.approx([0.1, 0.2], abs=1e-6)
    assert await store.reserve_send_slot(7, T, grid) - T == pytest.approx(1.0, abs=1e-6)
    # Half a slot on, the slot under way (chat 7's first) is not given again.
    assert await store.reserve_send_slot(8, T + 0.05, grid) - T == pytest.approx(0.3, abs=1e-6)
    assert await store.reserve_send_slot(None, T - 0.05, grid) - T == pytest.approx(0.4, abs=1e-6)


async def test_a_slot_counted_before_a_wait_for_the_lock_is_not_given_twice(
    store: Storage,
) -> None:
    """A replica counts its first slot from its clock, then may wait for the lock while a
    replica that came later takes a slot of its own: the slots and chats' turns before the
    later one's are still known to the first (at a burst's start, three replicas once put
    35 to 39 messages in one second)."""
    grid = SlotGrid(per_second=10, seconds_per_chat=1)
    assert await store.reserve_send_slot(7, T, grid) == pytest.approx(T, abs=1e-6)
    await store.reserve_send_slot(8, T + 5, grid)  # the later replica's

    assert await store.reserve_send_slot(9, T, grid) - T == pytest.approx(0.1, abs=1e-6)
    assert await store.reserve_send_slot(7, T, grid) - T == pytest.approx(1.0, abs=1e-6)


async def test_replicas_on_one_database_share_the_send_slots(postgres_url: str) -> None:
    """Telegram's limits are the bot's: two stores on one PostgreSQL database never take the
    same slot, nor a chat's second twice."""
    assert is_postgres(postgres_url)
    grid = SlotGrid(per_second=30, seconds_per_chat=1)
    async with opened_storage(postgres_url) as one, opened_storage(postgres_url) as two:
        stores = [one, two]
        starts = await asyncio.gather(
            *(stores[n % 2].reserve_send_slot(1000 + n, T, grid) for n in range(20)),
            *(stores[n % 2].reserve_send_slot(7, T, grid) for n in range(3)),
        )
    slots = sorted(round((start - T) * 30) for start in starts)
    assert len(set(slots)) == len(slots)  # one message per slot, whichever replica took it
    to_chat_7 = sorted(starts[20:])
    assert all(later - earlier >= 1.0 - 1e-9 for earlier, later in itertools.pairwise(to_chat_7))


async def test_a_restart_frees_a_sqlite_files_claims_but_not_other_replicas(
    database_url: str,
) -> None:
    """One process owns a SQLite file: whatever it claimed before it died is free when it
    starts again. On PostgreSQL the claims may be live replicas': they stand until the lease."""
    async with opened_storage(database_url) as store:
        await queue(store, [7])
        now = time.time()
        (held,) = await store.claim_messages("died", now, now + LEASE, limit=1)
    async with opened_storage(database_url) as store:
        again = await store.claim_messages("restarted", now, now + LEASE, limit=1)
    if is_postgres(database_url):
        assert again == []
    else:
        assert [m.id for m in again] == [held.id]
