"""The Transaction protocol over one pooled connection inside BEGIN…COMMIT."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

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
from storage.postgres import carts, events, goods, orders, outbox, preferences, refunds, stock
from storage.postgres.statements import Writes


class PostgresTransaction:
    """The operations of one transaction() block, each run by its concept's queries.

    An order read here is locked (FOR UPDATE) until the block commits: no other transaction
    changes it in between, as the protocol promises.
    """

    def __init__(self, db: Writes, now: Callable[[], int]) -> None:
        """`now`: the store's clock (Unix seconds), for whether orders hold their units."""
        self._db = db
        self._now = now

    async def remember_event(self, event_id: str, event_type: str) -> bool:
        return await events.remember(self._db, event_id, event_type)

    async def get_order(self, order_id: int) -> Order | None:
        return await orders.get_for_update(self._db, order_id)

    async def order_with_payment_intent(self, payment_intent_id: str) -> Order | None:
        return await orders.with_payment_intent_for_update(self._db, payment_intent_id)

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

    async def hold_units(self, order_id: int) -> bool:
        return await stock.hold(self._db, order_id, self._now())

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
