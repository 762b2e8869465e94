"""SQLiteStorage: the Storage protocol over one SQLite file, composing the engine and the
queries of each concept."""

from __future__ import annotations

import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Mapping,
    Sequence,
)
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Concatenate, ParamSpec, Self, TypeVar

from storage.models import (
    CartLine,
    Change,
    InviteLink,
    NewOrder,
    Order,
    OrderFacts,
    OutboxBacklog,
    OutboxMessage,
    RefundAsk,
    RefundClaim,
    StarPayment,
    StatusChange,
)
from storage.order_rules import OrderStatus
from storage.pacing import TapBook
from storage.protocol import StorageError, Transaction
from storage.send_slots import SlotBook, SlotGrid
from storage.sqlite import (
    carts,
    goods,
    guardian,
    health,
    orders,
    outbox,
    preferences,
    refunds,
    replicas,
)
from storage.sqlite.engine import Engine
from storage.sqlite.reports import SQLiteReports
from storage.sqlite.statements import Writes
from storage.sqlite.stock import record_catalog, record_levels, units_left
from storage.sqlite.transaction import SQLiteTransaction
from storage.updates import UpdateBook

P = ParamSpec("P")
T = TypeVar("T")


class SQLiteStorage:
    """Orders, Stripe event ids, refunds, stock, preferences and the outbox in one SQLite file.

    Reads run alone under the engine's lock; every write is a transaction of its own, which
    shares its COMMIT with the transactions open beside it (group commit).
    """

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        """`clock`: Unix seconds, read for whether an order still holds its units."""
        self._engine = Engine(path)
        self.reports = SQLiteReports(self._engine)
        self._send_slots = SlotBook()
        self._taps = TapBook()
        self._updates = UpdateBook()
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock())

    @property
    def instance_id(self) -> str:
        return self._engine.instance_id

    async def open(self) -> None:
        """Open the file (creating it and its folder), apply pending migrations, and free the
        outbox claims a process that died left."""
        await self._engine.open()
        try:
            await self._write(outbox.forget_claims)
        except StorageError:
            await self._engine.close()
            raise

    async def close(self) -> None:
        await self._engine.close()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def ping(self) -> None:
        await self._engine.ping()

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        return self._engine.transaction_as(self._transaction)

    def _transaction(self, db: Writes) -> SQLiteTransaction:
        return SQLiteTransaction(db, self._now)

    async def _write(
        self,
        write: Callable[Concatenate[Writes, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """One write, committed together with the transactions open beside it (group commit)."""
        async with self._engine.transaction() as db:
            return await write(db, *args, **kwargs)

    def on_change(self, change: Change, callback: Callable[[], None]) -> bool:
        """Never: the one process on the file made every change itself."""
        return False

    @asynccontextmanager
    async def periodic_turn(self, name: str) -> AsyncIterator[bool]:
        """Always this process's: one process opens a SQLite file."""
        yield True

    async def catalog_version(self) -> int:
        return await replicas.catalog_version(self._engine)

    async def bump_catalog_version(self) -> int:
        return await self._write(replicas.bump_catalog_version)

    async def first_sight_of_update(self, update_id: int, now: float) -> bool:
        """In memory: one process opens the file."""
        return self._updates.first_sight(update_id, now)

    async def pace_tap(self, telegram_user_id: int, now: float, window: float, limit: int) -> float:
        """In memory: one process opens the file, and a write would add a COMMIT to every tap
        (forgotten at a restart, as the taps of a minute ago may be)."""
        return self._taps.pace(telegram_user_id, now, window, limit)

    async def take_buy_turn(
        self, telegram_user_id: int, product_id: str, holder: str, now: float, until: float
    ) -> bool:
        """Always the one process's: its own lock already lets one tap at a time through, and a
        write here would only add a COMMIT to every tap."""
        return True

    async def end_buy_turn(self, telegram_user_id: int, product_id: str, holder: str) -> None:
        pass

    async def buy_turn_holder(
        self, telegram_user_id: int, product_id: str, now: float
    ) -> str | None:
        return None

    # Orders

    async def get_order(self, order_id: int) -> Order | None:
        return await orders.get(self._engine, order_id)

    async def create_order_within_stock(
        self, new: NewOrder, stock: Mapping[str, int], *, replacing: int | None = None
    ) -> Order | None:
        """Store a pending order unless fewer than a line's quantity are left; None if so.

        Counting and inserting happen in one IMMEDIATE transaction, so two buyers racing for
        the last unit cannot both get it, whatever lines their orders hold. `stock` is the
        catalog's number of each product with one (others are unlimited); `replacing` is the
        buyer's open order this one replaces, whose units are not counted.
        """
        counted = {
            line.product_id: stock[line.product_id]
            for line in new.lines
            if line.product_id in stock
        }
        async with self._engine.transaction() as db:
            if counted:
                # Only start-up and reloads change a recorded number: a tap still holding the
                # catalog from before a reload must not write its old number back.
                await record_levels(db, counted, replace=False)
                left = await units_left(db.off_loop, list(counted), replacing, self._now())
                if any(
                    left[line.product_id] < line.quantity
                    for line in new.lines
                    if line.product_id in counted
                ):
                    return None
            order = await orders.get(db, await orders.insert(db, new))
        assert order is not None
        return order

    async def attach_checkout(
        self, order_id: int, session_id: str, url: str, expires_at: int
    ) -> None:
        await self._write(orders.attach_checkout, order_id, session_id, url, expires_at)

    async def set_pay_message(self, order_id: int, message_id: int) -> None:
        await self._write(orders.set_pay_message, order_id, message_id)

    async def fail_order(self, order: Order, reason: str) -> bool:
        return await self._write(
            orders.advance,
            order,
            OrderStatus.FAILED,
            source="no checkout session",
            facts=OrderFacts(failure_reason=reason),
        )

    async def open_link_for(
        self, telegram_user_id: int, product_id: str, valid_after: int
    ) -> Order | None:
        return await orders.open_link_for(self._engine, telegram_user_id, product_id, valid_after)

    async def open_cart_link_for(self, telegram_user_id: int, valid_after: int) -> Order | None:
        return await orders.open_cart_link_for(self._engine, telegram_user_id, valid_after)

    async def orders_of_buyer(self, telegram_user_id: int, limit: int) -> list[Order]:
        return await orders.of_buyer(self._engine, telegram_user_id, limit)

    async def history_of(self, order_id: int) -> list[StatusChange]:
        return await orders.history(self._engine, order_id)

    async def waiting_orders(self, updated_before: int, limit: int) -> list[Order]:
        return await orders.waiting(self._engine, updated_before, limit)

    async def take_turns(self, order_ids: Sequence[int]) -> None:
        await self._write(orders.take_turn, order_ids)

    async def fail_orphans(self, created_before: int) -> int:
        """Fail pending orders that never got a Checkout Session and now never can."""
        failed = 0
        for order in await orders.without_session(self._engine, created_before, self._now()):
            failed += await self.fail_order(order, "no checkout session was made")
        return failed

    # Stock

    async def record_stock_levels(self, levels: Mapping[str, int]) -> None:
        await self._write(record_catalog, levels)

    async def stock_left(
        self, product_ids: Iterable[str], *, replacing: int | None = None
    ) -> dict[str, int]:
        return await units_left(self._engine, list(product_ids), replacing, self._now())

    # Digital goods

    async def record_digital_products(self, kinds: Mapping[str, str]) -> None:
        await self._write(goods.record_kinds, kinds)

    async def add_keys(self, pools: Mapping[str, Sequence[str]]) -> dict[str, int]:
        return await self._write(goods.add_keys, pools)

    async def free_keys(self, product_id: str) -> int:
        return (await goods.free_counts(self._engine, [product_id]))[product_id]

    async def keys_of(self, order_id: int, product_id: str | None = None) -> list[str]:
        return await goods.keys_of(self._engine, order_id, product_id)

    async def invite_links_of(self, order_id: int) -> list[InviteLink]:
        return await goods.invites_of(self._engine, order_id)

    async def save_invite_link(self, order_id: int, chat_id: int, link: str) -> str:
        return await self._write(goods.save_invite, order_id, chat_id, link)

    async def mark_invite_revoked(self, order_id: int, chat_id: int) -> None:
        await self._write(goods.mark_revoked, order_id, chat_id)

    async def file_id_for(self, path: str) -> str | None:
        return await goods.file_id_for(self._engine, path)

    async def remember_file_id(self, path: str, file_id: str) -> None:
        await self._write(goods.remember_file_id, path, file_id)

    async def star_payment_of(self, order_id: int) -> StarPayment | None:
        return await goods.star_payment_of(self._engine, order_id)

    async def star_payments_of_buyer(self, telegram_user_id: int, limit: int) -> list[StarPayment]:
        return await goods.star_payments_of(self._engine, telegram_user_id, limit)

    # Carts

    async def cart(self, telegram_user_id: int) -> list[CartLine]:
        return await carts.lines(self._engine, telegram_user_id)

    async def put_in_cart(
        self, telegram_user_id: int, line: CartLine, *, new_cart: bool = False
    ) -> bool:
        return await self._write(carts.put, telegram_user_id, line, new_cart=new_cart)

    async def set_cart_quantity(
        self, telegram_user_id: int, product_id: str, quantity: int
    ) -> None:
        await self._write(carts.set_quantity, telegram_user_id, product_id, quantity)

    async def empty_cart(self, telegram_user_id: int) -> None:
        await self._write(carts.empty, telegram_user_id)

    # Refunds

    async def refunds_asked(self, order_id: int) -> int:
        return await refunds.asked(self._engine, order_id)

    async def answer_refund_question(
        self,
        chat_id: int,
        message_id: int,
        *,
        confirmed: bool,
        admin_id: int,
        ask: RefundAsk | None = None,
    ) -> bool:
        return await self._write(
            refunds.answer_question,
            chat_id,
            message_id,
            confirmed=confirmed,
            admin_id=admin_id,
            ask=ask,
        )

    async def unsettled_refund_asks(self) -> list[RefundAsk]:
        return await refunds.unsettled(self._engine)

    async def unsettled_refund_ask(self, chat_id: int, message_id: int) -> RefundAsk | None:
        return await refunds.unsettled_ask(self._engine, chat_id, message_id)

    async def claim_refund_ask(
        self, chat_id: int, message_id: int, now: float, until: float
    ) -> RefundClaim:
        return await self._write(refunds.claim_ask, chat_id, message_id, now, until)

    async def release_refund_ask(self, chat_id: int, message_id: int, until: float) -> None:
        await self._write(refunds.release_ask, chat_id, message_id, until)

    # The guardian's memory

    async def guardian_told(self) -> dict[str, float]:
        return await guardian.told(self._engine)

    async def remember_guardian_told(self, conditions: Mapping[str, float]) -> None:
        await self._write(guardian.remember, conditions)

    # Buyers' and admins' preferences

    async def buyer_language(self, telegram_user_id: int) -> str | None:
        return await preferences.buyer_language(self._engine, telegram_user_id)

    async def set_buyer_language(self, telegram_user_id: int, language: str) -> None:
        await self._write(preferences.set_buyer_language, telegram_user_id, language)

    async def alerts_enabled(self, admin_id: int) -> bool:
        return await preferences.alerts_enabled(self._engine, admin_id)

    async def set_alerts(self, admin_id: int, enabled: bool) -> None:
        await self._write(preferences.set_alerts, admin_id, enabled)

    async def admin_language(self, admin_id: int) -> str | None:
        return await preferences.admin_language(self._engine, admin_id)

    async def set_admin_language(self, admin_id: int, language: str | None) -> None:
        await self._write(preferences.set_admin_language, admin_id, language)

    async def admin_menu_chats(self) -> set[int]:
        return await preferences.admin_menu_chats(self._engine)

    async def set_admin_menu(self, chat_id: int, shown: bool) -> None:
        await self._write(preferences.set_admin_menu, chat_id, shown)

    # The outbox

    async def due_messages(
        self,
        now: float,
        limit: int,
        *,
        skip_ids: Collection[int] = (),
        skip_chats: Collection[int] = (),
    ) -> list[OutboxMessage]:
        return await outbox.due(self._engine, now, limit, skip_ids=skip_ids, skip_chats=skip_chats)

    async def claim_messages(
        self,
        claimant: str,
        now: float,
        until: float,
        limit: int,
        *,
        skip_ids: Collection[int] = (),
        skip_chats: Collection[int] = (),
    ) -> list[OutboxMessage]:
        return await self._write(
            outbox.claim,
            claimant,
            now,
            until,
            limit,
            skip_ids=skip_ids,
            skip_chats=skip_chats,
        )

    async def renew_claims(self, claimant: str, message_ids: Collection[int], until: float) -> None:
        if message_ids:
            await self._write(outbox.renew_claims, claimant, message_ids, until)

    async def release_claims(self, claimant: str, message_ids: Collection[int]) -> None:
        if message_ids:
            await self._write(outbox.release_claims, claimant, message_ids)

    async def reserve_send_slot(self, chat_id: int | None, now: float, grid: SlotGrid) -> float:
        # One process owns the file: its memory holds every slot taken.
        return self._send_slots.reserve(chat_id, now, grid)

    async def next_attempt_at(
        self, *, skip_ids: Collection[int] = (), skip_chats: Collection[int] = ()
    ) -> float | None:
        return await outbox.next_attempt_at(self._engine, skip_ids=skip_ids, skip_chats=skip_chats)

    async def mark_sent(self, message_ids: Iterable[int]) -> None:
        ids = list(message_ids)
        if ids:
            await self._write(outbox.mark_sent, ids)

    async def retry_later(self, message_id: int, at: float, error: str) -> None:
        await self._write(outbox.retry_later, message_id, at, error)

    async def give_up(self, message_id: int, error: str) -> None:
        await self._write(outbox.give_up, message_id, error)

    # Health figures

    async def outbox_backlog(self) -> OutboxBacklog:
        return await health.outbox_backlog(self._engine)

    async def orders_by_status(self) -> dict[OrderStatus, int]:
        return await health.orders_by_status(self._engine)
