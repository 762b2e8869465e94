"""The Transaction protocol over one group-commit member's connection."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType

from storage.models import (
    InviteLink,
    MessageKind,
    Order,
    OrderFacts,
    OrderLine,
    RefundAsk,
    StarPayment,
)
from storage.order_rules import OrderStatus
from storage.sqlite import carts, events, goods, orders, outbox, preferences, refunds
from storage.sqlite.statements import Writes


class TransactionBlock:
    """What `SQLiteStorage.transaction()` returns: the engine's block, its connection seen as
    a SQLiteTransaction (a class, not a generator: see the engine's _Member)."""

    __slots__ = ("_block",)

    def __init__(self, block: AbstractAsyncContextManager[Writes]) -> None:
        self._block = block

    async def __aenter__(self) -> SQLiteTransaction:
        return SQLiteTransaction(await self._block.__aenter__())

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return await self._block.__aexit__(exc_type, exc, tb)


class SQLiteTransaction:
    """The operations of one transaction() block, each run by its concept's queries."""

    def __init__(self, db: Writes) -> None:
        self._db = db

    async def remember_event(self, event_id: str, event_type: str) -> bool:
        return await events.remember(self._db, event_id, event_type)

    async def get_order(self, order_id: int) -> Order | None:
        return await orders.get(self._db, order_id)

    async def order_with_payment_intent(self, payment_intent_id: str) -> Order | None:
        return await orders.with_payment_intent(self._db, payment_intent_id)

    async def advance(
        self, order: Order, target: OrderStatus, *, source: str, facts: OrderFacts | None = None
    ) -> bool:
        return await orders.advance(self._db, order, target, source=source, facts=facts)

    async def set_checkout_session(self, order_id: int, session_id: str) -> None:
        await orders.set_checkout_session(self._db, order_id, session_id)

    async def retire_order(self, order_id: int, reason: str) -> bool:
        return await orders.retire(self._db, order_id, reason)

    async def set_amount_refunded(self, order_id: int, amount: int) -> None:
        await orders.set_amount_refunded(self._db, order_id, amount)

    async def flag_order(self, order_id: int, flag: str) -> None:
        await orders.set_flag(self._db, order_id, flag)

    async def record_refund(self, refund_id: str, order_id: int, amount: int, status: str) -> int:
        return await refunds.record(self._db, refund_id, order_id, amount, status)

    async def settle_refund_ask(self, ask: RefundAsk, *, made: bool) -> None:
        await refunds.settle_ask(self._db, ask, made=made)

    async def undone_refunds(self, order_id: int) -> int:
        return await refunds.undone(self._db, order_id)

    async def refund_status(self, refund_id: str) -> str | None:
        return await refunds.status(self._db, refund_id)

    async def tell_requester_once(self, refund_id: str, admin_id: int) -> bool:
        return await refunds.tell_requester_once(self._db, refund_id, admin_id)

    async def alerts_enabled(self, admin_id: int) -> bool:
        return await preferences.alerts_enabled(self._db, admin_id)

    async def take_from_cart(self, telegram_user_id: int, paid: Sequence[OrderLine]) -> None:
        await carts.take_paid(self._db, telegram_user_id, paid)

    async def enqueue(
        self, chat_id: int, kind: MessageKind, order_id: int | None, detail: str | None = None
    ) -> None:
        await outbox.enqueue(self._db, chat_id, kind, order_id, detail)

    async def enqueue_alerts(
        self,
        kind: MessageKind,
        order_id: int,
        admin_ids: Collection[int],
        detail: str | None = None,
    ) -> None:
        await outbox.enqueue_alerts(self._db, kind, order_id, admin_ids, detail)

    async def digital_kind(self, product_id: str) -> str | None:
        return await goods.kind_of(self._db, product_id)

    async def take_keys(self, order_id: int, product_id: str, count: int) -> list[str]:
        return await goods.take_keys(self._db, order_id, product_id, count)

    async def record_star_payment(
        self, charge_id: str, order_id: int, telegram_user_id: int, amount: int
    ) -> bool:
        return await goods.record_star_payment(
            self._db, charge_id, order_id, telegram_user_id, amount
        )

    async def star_payment_of(self, order_id: int) -> StarPayment | None:
        return await goods.star_payment_of(self._db, order_id)

    async def mark_star_refunded(self, charge_id: str) -> bool:
        return await goods.mark_star_refunded(self._db, charge_id)

    async def invite_links_of(self, order_id: int) -> list[InviteLink]:
        return await goods.invites_of(self._db, order_id)
