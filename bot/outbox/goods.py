"""The messages that deliver digital goods, made when the outbox sends them: a code from the
order's pool, a text, a document (uploaded once, then sent by Telegram's file id), or a
one-person invite link (made once per order and kept); and access taken back after a refund.

Each is made from what the store kept for the order, so sending it again ("Send again" in
/orders, or a repeat after a crash) gives the same code and the same link.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from telegram import Bot, InputFile, Message
from telegram.error import BadRequest

from bot.buyer import texts
from bot.catalog.model import Delivery, LiveCatalog, localized
from bot.outbox.notices import Outgoing
from bot.references import reference_for
from storage import Order, Storage, StorageError
from storage.order_rules import MONEY_KEPT

log = logging.getLogger(__name__)


class Goods:
    """Delivers what an order's product gives, and takes back an invite's access."""

    def __init__(self, storage: Storage, bot: Bot, catalog: LiveCatalog) -> None:
        self._storage = storage
        self._bot = bot
        self._catalog = catalog

    async def delivery(self, order: Order, product_id: str, *, on_payment: bool) -> Outgoing | None:
        """The goods of one product of a paid order (`on_payment`: with the payment's
        confirmation); None once it is refunded (or the product delivers nothing)."""
        if order.status not in MONEY_KEPT:
            return None
        codes = await self._storage.keys_of(order.id, product_id)
        if codes:  # kept with the order, whatever the catalog says now
            return Outgoing(texts.delivery_codes(order, codes, on_payment=on_payment))
        product = self._catalog.current.get(product_id)
        deliver = product.deliver if product is not None else None
        if deliver is None or deliver.kind == "keys":
            log.warning("order %s: nothing to deliver (not in the catalog any more)", order.id)
            return None
        if deliver.kind == "text":
            assert deliver.text is not None
            text = localized(deliver.text, order.language)
            return Outgoing(texts.delivery_text(order, text, on_payment=on_payment))
        if deliver.kind == "invite":
            assert deliver.invite_chat_id is not None
            link = await self._invite(order, deliver.invite_chat_id)
            return Outgoing(texts.delivery_invite(order, link, on_payment=on_payment))
        caption = texts.delivery_file(order, on_payment=on_payment)
        return await self._document(caption, deliver)

    async def access_revoked(self, order: Order) -> Outgoing | None:
        """After a full refund: the order's invite link revoked and the buyer removed from the
        group (and free to join again another day); the buyer is told."""
        links = await self._storage.invite_links_of(order.id)
        if not links:
            return None  # never delivered: there was no access to take back
        for link in links:
            if link.revoked_at is not None:
                continue
            try:
                await self._bot.revoke_chat_invite_link(link.chat_id, link.invite_link)
            except BadRequest as exc:  # revoked or expired already
                log.info("order %s: invite link not revoked: %s", order.id, exc)
            await self._bot.ban_chat_member(link.chat_id, order.telegram_user_id)
            await self._bot.unban_chat_member(
                link.chat_id, order.telegram_user_id, only_if_banned=True
            )
            await self._storage.mark_invite_revoked(order.id, link.chat_id)
        return Outgoing(texts.access_revoked(order))

    async def _invite(self, order: Order, chat_id: int) -> str:
        for kept in await self._storage.invite_links_of(order.id):
            if kept.chat_id == chat_id:
                return kept.invite_link
        made = await self._bot.create_chat_invite_link(
            chat_id, member_limit=1, name=f"order #{reference_for(order.id)}"
        )
        # The first link kept for the order stays, should two sends have raced.
        return await self._storage.save_invite_link(order.id, chat_id, made.invite_link)

    async def _document(self, caption: str, deliver: Delivery) -> Outgoing:
        assert deliver.file is not None
        if not deliver.file_is_path:
            return Outgoing(caption, document=deliver.file)
        path = Path(deliver.file)
        stat = await asyncio.to_thread(path.stat)
        # A file changed at the same path is uploaded again.
        key = f"{path}:{stat.st_size}:{stat.st_mtime_ns}"
        known = await self._storage.file_id_for(key)
        if known is not None:
            return Outgoing(caption, document=known)
        data = await asyncio.to_thread(path.read_bytes)

        async def remember(sent: Message) -> None:
            if sent.document is None:
                return
            try:
                await self._storage.remember_file_id(key, sent.document.file_id)
            except StorageError as exc:  # the file is sent: next time it is uploaded again
                log.warning("could not keep the file id of %s: %s", path, exc)

        return Outgoing(caption, document=InputFile(data, filename=path.name), on_sent=remember)
