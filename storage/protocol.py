"""What the bot and the webhooks ask of the store: the Storage and Transaction protocols, and
StorageError, the one error they see.

A backend implements these with its own queries; nothing here names SQL, rows or a driver.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from storage.models import (
    CartLine,
    Change,
    InviteLink,
    MessageKind,
    NewOrder,
    Order,
    OrderFacts,
    OrderLine,
    OutboxBacklog,
    OutboxMessage,
    PeriodFigures,
    RefundAsk,
    RefundClaim,
    SpanSales,
    StarPayment,
    StatusChange,
)
from storage.order_rules import OrderStatus
from storage.send_slots import SlotGrid


class StorageError(Exception):
    """The database could not do what was asked (it is unreachable, full, or corrupt)."""


class Transaction(Protocol):
    """Operations that commit together, such as recording a payment and queueing its message.

    Reads here see the transaction's own writes, and nothing changes what they read before it
    commits.
    """

    async def remember_event(self, event_id: str, event_type: str) -> bool:
        """Record a Stripe event id; False when it was recorded before (a duplicate delivery)."""
        ...

    async def get_order(self, order_id: int) -> Order | None:
        """The order with that id, if there is one."""
        ...

    async def order_with_payment_intent(self, payment_intent_id: str) -> Order | None:
        """The order a PaymentIntent paid, if it is one of ours."""
        ...

    async def advance(
        self, order: Order, target: OrderStatus, *, source: str, facts: OrderFacts | None = None
    ) -> bool:
        """Move the order to `target` if its stored status has an edge there; False if not."""
        ...

    async def set_checkout_session(self, order_id: int, session_id: str) -> None:
        """Store the order's Checkout Session, when the process stopped before it could."""
        ...

    async def retire_order(self, order_id: int, reason: str) -> bool:
        """Take a waiting order out of reconciliation for good (Stripe does not know its
        session), flagged with `reason`; False if it was retired before."""
        ...

    async def set_amount_refunded(self, order_id: int, amount: int) -> None:
        """Store the order's refunded total."""
        ...

    async def flag_order(self, order_id: int, flag: str) -> None:
        """Say why the owner should look at the order."""
        ...

    async def record_refund(self, refund_id: str, order_id: int, amount: int, status: str) -> int:
        """Store a refund as Stripe last reported it; returns the order's succeeded total."""
        ...

    async def settle_refund_ask(self, ask: RefundAsk, *, made: bool) -> None:
        """Record that Stripe made a confirmed question's refund, or that it was not made."""
        ...

    async def undone_refunds(self, order_id: int) -> int:
        """What the order's failed and canceled refunds came to."""
        ...

    async def refund_status(self, refund_id: str) -> str | None:
        """The status last stored for a refund; None before any event about it."""
        ...

    async def tell_requester_once(self, refund_id: str, admin_id: int) -> bool:
        """Note that the admin who asked for a refund is told of it; False if they were."""
        ...

    async def alerts_enabled(self, admin_id: int) -> bool:
        """Whether the admin wants a message on every sale, refund and failure."""
        ...

    async def take_from_cart(self, telegram_user_id: int, paid: Sequence[OrderLine]) -> None:
        """Take what an order paid for out of the buyer's cart (the lines left with nothing)."""
        ...

    async def enqueue(
        self, chat_id: int, kind: MessageKind, order_id: int | None, detail: str | None = None
    ) -> None:
        """Queue a chat message; the outbox sender delivers it after the commit."""
        ...

    async def enqueue_alerts(
        self,
        kind: MessageKind,
        order_id: int,
        admin_ids: Collection[int],
        detail: str | None = None,
    ) -> None:
        """Queue one message per admin in `admin_ids` who turned sale alerts on."""
        ...

    # Digital goods

    async def digital_kind(self, product_id: str) -> str | None:
        """What the product delivers once paid (file, keys, invite, text); None: nothing."""
        ...

    async def hold_units(self, order_id: int) -> bool:
        """Hold a pending order's units again for a while from now (a yes to a pre-checkout
        query in Telegram Stars, or its payment), if they are there without it: as many left
        of each product with a stock and as many codes of each key pool as the order wants,
        no other order on any replica counting them meanwhile. False, changing nothing, when
        they are not (another order took them) or the order is not pending."""
        ...

    async def take_keys(self, order_id: int, product_id: str, count: int) -> list[str]:
        """The order's codes of the product's pool: those it took before, else up to
        `count` free ones, taken for good (never by another order, on any replica)."""
        ...

    async def record_star_payment(
        self, charge_id: str, order_id: int, telegram_user_id: int, amount: int
    ) -> bool:
        """Record a payment in Telegram Stars; False when its charge was recorded before."""
        ...

    async def star_payment_of(self, order_id: int) -> StarPayment | None:
        """The order's payment in Stars, if it was paid so."""
        ...

    async def mark_star_refunded(self, charge_id: str) -> bool:
        """Record that a Star payment was refunded; False when it was before."""
        ...

    async def invite_links_of(self, order_id: int) -> list[InviteLink]:
        """The invite links made for the order (one per group or channel)."""
        ...


class Reports(Protocol):
    """The owner's figures (/stats, /sales, /chart, /export): money summed per currency."""

    async def period_figures(self, start: int | None, end: int | None, top: int) -> PeriodFigures:
        """/stats for the half-open period [start, end); None leaves that side open."""
        ...

    async def sales_by_span(self, boundaries: Sequence[int]) -> list[SpanSales]:
        """Paid orders per currency in each span [boundaries[i], boundaries[i + 1])."""
        ...

    async def first_paid_at(self) -> int | None:
        """When the first order was paid; None before any was."""
        ...

    async def paid_orders(self, limit: int, before: tuple[int, int] | None) -> list[Order]:
        """Paid orders, newest first, after the (paid_at, id) of the previous page's last."""
        ...

    def orders_created(
        self, start: int | None, end: int | None, chunk_size: int
    ) -> AsyncIterator[list[Order]]:
        """Every order created in [start, end), oldest first, `chunk_size` at a time."""
        ...


class Storage(Protocol):
    """Orders, Stripe event ids, refunds, stock, preferences and the outbox.

    Each operation here is on its own: a write is committed (durably) when it returns, and
    a read sees what was committed. Operations that must commit together go in transaction().
    """

    @property
    def instance_id(self) -> str:
        """This database's own id, set when it was created (kept in idempotency keys)."""
        ...

    @property
    def reports(self) -> Reports:
        """The owner's figures."""
        ...

    async def open(self) -> None:
        """Open the database, creating and migrating it as needed."""
        ...

    async def close(self) -> None:
        """Close the database; later calls raise StorageError."""
        ...

    async def ping(self) -> None:
        """Raise StorageError unless the database answers a query."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """All or nothing; the block returns once what it did is durable."""
        ...

    # Several processes on one database

    def on_change(self, change: Change, callback: Callable[[], None]) -> bool:
        """Have `callback` called, while the store is open, when another process on the
        database made `change` (queued a message, reloaded the catalog), and once after the
        store may have missed one. True when the store tells (PostgreSQL); False when it never
        will (SQLite: one process), and the caller must look for itself."""
        ...

    def periodic_turn(self, name: str) -> AbstractAsyncContextManager[bool]:
        """Whether this process has the turn at the periodic work `name` (reconciliation)
        while the block runs: True for one process at a time, False for the others. A process
        that dies loses its turn with it."""
        ...

    async def catalog_version(self) -> int:
        """How many times a catalog was reloaded, by any process on this database."""
        ...

    async def bump_catalog_version(self) -> int:
        """Count one more reload; the new version."""
        ...

    async def first_sight_of_update(self, update_id: int, now: float) -> bool:
        """Whether this Telegram update (by its update_id) is new, and it is remembered; False
        for a repeat Telegram delivered again, to whichever process (storage/updates.py)."""
        ...

    async def pace_tap(self, telegram_user_id: int, now: float, window: float, limit: int) -> float:
        """0 when the buyer's tap at `now` (Unix seconds) may go ahead, and it is counted;
        else the seconds until fewer than `limit` of their taps are within `window`."""
        ...

    async def take_buy_turn(
        self, telegram_user_id: int, product_id: str, holder: str, now: float, until: float
    ) -> bool:
        """The buyer's turn at a product, for `holder` until `until` (Unix seconds); False
        while another holder's turn has not ended or run out."""
        ...

    async def end_buy_turn(self, telegram_user_id: int, product_id: str, holder: str) -> None:
        """End `holder`'s turn (nothing if it ran out and another took it)."""
        ...

    async def buy_turn_holder(
        self, telegram_user_id: int, product_id: str, now: float
    ) -> str | None:
        """Who holds the buyer's turn at the product at `now`; None when nobody does (and on
        a backend whose one process keeps its turns in memory)."""
        ...

    # Orders

    async def get_order(self, order_id: int) -> Order | None:
        """The order with that id, if there is one."""
        ...

    async def create_order_within_stock(
        self, new: NewOrder, stock: Mapping[str, int], *, replacing: int | None = None
    ) -> Order | None:
        """Store a pending order unless fewer than a line's quantity are left (`stock`: the
        catalog's number of each product that has one); None if so. All lines or none."""
        ...

    async def attach_checkout(
        self, order_id: int, session_id: str, url: str, expires_at: int
    ) -> None:
        """Remember the Checkout Session made for a pending order."""
        ...

    async def set_pay_message(self, order_id: int, message_id: int) -> None:
        """Remember the chat message holding the order's pay button."""
        ...

    async def fail_order(self, order: Order, reason: str) -> bool:
        """Mark an order failed (no payment link could be made for it)."""
        ...

    async def open_link_for(
        self, telegram_user_id: int, product_id: str, valid_after: int
    ) -> Order | None:
        """The buyer's newest pending order for a product whose link is still valid then."""
        ...

    async def open_cart_link_for(self, telegram_user_id: int, valid_after: int) -> Order | None:
        """The buyer's newest pending order made from their cart whose link is still valid then."""
        ...

    async def orders_of_buyer(self, telegram_user_id: int, limit: int) -> list[Order]:
        """The buyer's latest orders, newest first."""
        ...

    async def history_of(self, order_id: int) -> list[StatusChange]:
        """The statuses an order took, oldest first."""
        ...

    async def waiting_orders(self, updated_before: int, limit: int) -> list[Order]:
        """Pending and processing orders with a session, untouched after `updated_before`,
        but retired ones; those whose turn came longest ago (take_turns) first."""
        ...

    async def take_turns(self, order_ids: Sequence[int]) -> None:
        """Note that reconciliation looked at these orders now: the others come first next."""
        ...

    async def fail_orphans(self, created_before: int) -> int:
        """Fail pending orders that never got a Checkout Session; how many there were."""
        ...

    # Stock

    async def record_stock_levels(self, levels: Mapping[str, int]) -> None:
        """Remember the catalog's `stock` numbers; a product without one is unlimited."""
        ...

    async def stock_left(
        self, product_ids: Iterable[str], *, replacing: int | None = None
    ) -> dict[str, int]:
        """Units left of each product with a stock, not counting the order `replacing`."""
        ...

    # Digital goods

    async def record_digital_products(self, kinds: Mapping[str, str]) -> None:
        """Remember what each digital product of the catalog delivers (file, keys, invite,
        text); the others deliver nothing."""
        ...

    async def add_keys(self, pools: Mapping[str, Sequence[str]]) -> dict[str, int]:
        """Add the codes of each product's key pool (codes seen before stay as they are), and
        record its stock from its codes not taken yet; returns the stock numbers recorded."""
        ...

    async def free_keys(self, product_id: str) -> int:
        """The codes of the product's pool not taken yet."""
        ...

    async def keys_of(self, order_id: int, product_id: str | None = None) -> list[str]:
        """The codes an order took (of one product, when named)."""
        ...

    async def invite_links_of(self, order_id: int) -> list[InviteLink]:
        """The invite links made for the order (one per group or channel)."""
        ...

    async def save_invite_link(self, order_id: int, chat_id: int, link: str) -> str:
        """Keep the invite link made for an order to a group or channel; the first one kept
        stays, and is returned."""
        ...

    async def mark_invite_revoked(self, order_id: int, chat_id: int) -> None:
        """Record that the order's invite link to that group or channel was revoked."""
        ...

    async def file_id_for(self, path: str) -> str | None:
        """Telegram's file id for a file the bot uploaded before."""
        ...

    async def remember_file_id(self, path: str, file_id: str) -> None:
        """Keep Telegram's file id for an uploaded file, to send it again without uploading."""
        ...

    async def star_payment_of(self, order_id: int) -> StarPayment | None:
        """The order's payment in Stars, if it was paid so."""
        ...

    async def star_payments_of_buyer(self, telegram_user_id: int, limit: int) -> list[StarPayment]:
        """The buyer's latest payments in Stars, newest first."""

    # Carts

    async def cart(self, telegram_user_id: int) -> list[CartLine]:
        """The buyer's cart, in the order its lines were added (empty after 30 days untouched)."""
        ...

    async def put_in_cart(
        self, telegram_user_id: int, line: CartLine, *, new_cart: bool = False
    ) -> bool:
        """Set a product's line in the buyer's cart (emptied first when `new_cart`); False,
        changing nothing, when the cart holds another currency."""
        ...

    async def set_cart_quantity(
        self, telegram_user_id: int, product_id: str, quantity: int
    ) -> None:
        """Change a line's quantity; 0 takes it out."""
        ...

    async def empty_cart(self, telegram_user_id: int) -> None:
        """Take every line out of the buyer's cart."""
        ...

    # Refunds

    async def refunds_asked(self, order_id: int) -> int:
        """The refunds of an order Stripe made or is making (failed and canceled ones aside)."""
        ...

    async def answer_refund_question(
        self,
        chat_id: int,
        message_id: int,
        *,
        confirmed: bool,
        admin_id: int,
        ask: RefundAsk | None = None,
    ) -> bool:
        """Record the first answer to a refund question, with a Confirm's refund (unsettled until
        Stripe's answer is recorded); False when it was answered before."""
        ...

    async def unsettled_refund_asks(self) -> list[RefundAsk]:
        """Confirmed refunds whose answer from Stripe was never recorded, oldest first."""
        ...

    async def unsettled_refund_ask(self, chat_id: int, message_id: int) -> RefundAsk | None:
        """The question's confirmed refund, if Stripe's answer to it was never recorded."""
        ...

    async def claim_refund_ask(
        self, chat_id: int, message_id: int, now: float, until: float
    ) -> RefundClaim:
        """The question's unsettled refund is the caller's to ask of Stripe until `until`
        (Unix seconds), unless a claim on it or on another question of its order has not run
        out at `now` (one claim per order), or the refund is settled. One process on the
        database wins."""
        ...

    async def release_refund_ask(self, chat_id: int, message_id: int, until: float) -> None:
        """End the claim made with `until` (nothing if it ran out and another took it)."""
        ...

    # The guardian's memory

    async def guardian_told(self) -> dict[str, float]:
        """The conditions the guardian told the admins of and that have not ended: when each
        was last told (Unix seconds), whichever process told it."""
        ...

    async def remember_guardian_told(self, conditions: Mapping[str, float]) -> None:
        """Replace what guardian_told returns."""
        ...

    # Buyers' and admins' preferences

    async def buyer_language(self, telegram_user_id: int) -> str | None:
        """The language a buyer picked with /language, if they did."""
        ...

    async def set_buyer_language(self, telegram_user_id: int, language: str) -> None:
        """Remember the language a buyer picked."""
        ...

    async def alerts_enabled(self, admin_id: int) -> bool:
        """Whether the admin wants a message on every sale, refund and failure."""
        ...

    async def set_alerts(self, admin_id: int, enabled: bool) -> None:
        """Turn an admin's sale alerts on or off."""
        ...

    async def admin_language(self, admin_id: int) -> str | None:
        """The language an admin's alerts are written in."""
        ...

    async def set_admin_language(self, admin_id: int, language: str | None) -> None:
        """Remember the language an admin's alerts are written in (after set_alerts)."""
        ...

    async def admin_menu_chats(self) -> set[int]:
        """The chats last given the admins' command menu."""
        ...

    async def set_admin_menu(self, chat_id: int, shown: bool) -> None:
        """Remember whether a chat was given the admins' command menu."""
        ...

    # The outbox

    async def due_messages(
        self,
        now: float,
        limit: int,
        *,
        skip_ids: Collection[int] = (),
        skip_chats: Collection[int] = (),
    ) -> list[OutboxMessage]:
        """Unsent messages due by `now` that no sender's claim holds then, each chat's oldest
        only, oldest first, but those of the ids and chats skipped."""
        ...

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
        """Claim for the sender `claimant`, until `until` (its lease), what due_messages would
        return: no other sender gets these messages before then, unless they are released.
        Recording what came of a message (sent, retry later, give up) ends its claim."""
        ...

    async def renew_claims(self, claimant: str, message_ids: Collection[int], until: float) -> None:
        """Extend the lease on these messages while `claimant` still holds them."""
        ...

    async def release_claims(self, claimant: str, message_ids: Collection[int]) -> None:
        """Let other senders take these messages at once (a sender that stops unsent)."""
        ...

    async def reserve_send_slot(self, chat_id: int | None, now: float, grid: SlotGrid) -> float:
        """Take the first free send slot for a message to `chat_id` from `now` on, within
        `grid`'s limits, for every process on this database together; when the slot starts
        (on the clock `now` was read from: Unix seconds, for processes to agree). With no
        `chat_id`, only the cap for all chats together applies (the bot's answers)."""
        ...

    async def next_attempt_at(
        self, *, skip_ids: Collection[int] = (), skip_chats: Collection[int] = ()
    ) -> float | None:
        """When the earliest unsent message not skipped is due, or its claim ends if that is
        later; None when there is none."""
        ...

    async def mark_sent(self, message_ids: Iterable[int]) -> None:
        """Record that Telegram took these messages."""
        ...

    async def retry_later(self, message_id: int, at: float, error: str) -> None:
        """Try the message again at `at`."""
        ...

    async def give_up(self, message_id: int, error: str) -> None:
        """Stop trying to send a message that can never be delivered."""
        ...

    # Health figures

    async def outbox_backlog(self) -> OutboxBacklog:
        """How many messages wait to be sent, and since when the oldest does."""
        ...

    async def orders_by_status(self) -> dict[OrderStatus, int]:
        """How many orders are in each status (0 for a status no order has)."""
        ...
