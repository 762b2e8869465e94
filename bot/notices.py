"""What each queued outbox message says, rendered from its order as it is when it is sent."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardMarkup

from bot import texts
from storage import MessageKind, OutboxMessage, SQLiteStorage


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A chat message ready to send, or an edit of one already sent."""

    text: str
    reply_markup: InlineKeyboardMarkup | None = None
    # Edit this message of the chat instead of sending a new one.
    edit_message_id: int | None = None


class Notices:
    """Renders outbox rows; None means there is nothing left to say (the order is gone)."""

    def __init__(self, storage: SQLiteStorage) -> None:
        self._storage = storage

    async def compose(self, message: OutboxMessage) -> Outgoing | None:
        """The message to deliver for an outbox row."""
        order = await self._storage.get_order(message.order_id) if message.order_id else None
        if order is None:
            return None
        if message.kind is MessageKind.PAYMENT_RECEIVED:
            return Outgoing(texts.payment_received(order))
        return None
