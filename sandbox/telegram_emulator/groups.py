"""Private groups and channels the bot administers: one-person invite links, and removing a member.

As the Bot API documents them (core.telegram.org/bots/api#createchatinvitelink,
#revokechatinvitelink, #banchatmember, #unbanchatmember): the bot must be an administrator
with the right to invite users; ``member_limit`` is 1–99999; an invite link's ``name`` is at
most 32 characters; a revoked link lets nobody in; a ban removes the member, and an unban
``only_if_banned`` lets them join again later without adding them back.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from .common import JSON, bad_request, present
from .params import Params

if TYPE_CHECKING:
    from ..telegram_api import TelegramEmulator, TgUser

MEMBER_LIMIT_MOST: Final = 99_999
LINK_NAME_MOST: Final = 32


@dataclass
class InviteLink:
    invite_link: str
    name: str | None
    member_limit: int | None
    expire_date: int | None
    is_revoked: bool = False
    joined: list[int] = field(default_factory=list)

    def as_dict(self, creator: JSON) -> JSON:
        link: JSON = {
            "invite_link": self.invite_link,
            "creator": creator,
            "creates_join_request": False,
            "is_primary": False,
            "is_revoked": self.is_revoked,
        }
        return link | present(
            name=self.name, member_limit=self.member_limit, expire_date=self.expire_date
        )


@dataclass
class Group:
    chat: JSON
    bot_is_admin: bool
    members: set[int] = field(default_factory=set)
    banned: set[int] = field(default_factory=set)
    links: dict[str, InviteLink] = field(default_factory=dict)


class Groups:
    """The groups and channels of one emulated bot, with helpers for tests to join them."""

    def __init__(self, host: TelegramEmulator) -> None:
        self._host = host
        self._groups: dict[int, Group] = {}
        self._link_numbers = itertools.count(1)

    def add(self, chat_id: int, title: str, *, bot_is_admin: bool = True) -> JSON:
        """A private supergroup (ids below zero, as Telegram's are) the bot is a member of."""
        if chat_id >= 0:
            raise ValueError("group and channel ids are negative")
        chat = {"id": chat_id, "title": title, "type": "supergroup"}
        self._groups[chat_id] = Group(chat, bot_is_admin)
        return dict(chat)

    def members(self, chat_id: int) -> set[int]:
        return set(self._groups[chat_id].members)

    def links(self, chat_id: int) -> list[InviteLink]:
        return list(self._groups[chat_id].links.values())

    def join(self, user: TgUser, invite_link: str) -> None:
        """The user opens an invite link and joins; ValueError with Telegram's reason if not."""
        for group in self._groups.values():
            link = group.links.get(invite_link)
            if link is None:
                continue
            if link.is_revoked:
                raise ValueError("INVITE_HASH_EXPIRED")
            if link.member_limit is not None and len(link.joined) >= link.member_limit:
                raise ValueError("USERS_TOO_MUCH")
            if user.id in group.banned:
                raise ValueError("USER_BANNED_IN_CHANNEL")
            link.joined.append(user.id)
            group.members.add(user.id)
            self._host.changed()
            return
        raise ValueError("INVITE_HASH_INVALID")

    def _group(self, params: Params, *, right: str) -> Group:
        group = self._groups.get(params.integer("chat_id") or 0)
        if group is None:
            raise bad_request("chat not found")
        if not group.bot_is_admin:
            raise bad_request(f"not enough rights to {right}")
        return group

    async def create_chat_invite_link(self, params: Params) -> JSON:
        group = self._group(params, right="manage chat invite links")
        name = params.text("name")
        if name is not None and len(name) > LINK_NAME_MOST:
            raise bad_request("invite link name is too long")
        limit = params.integer("member_limit")
        if "member_limit" in params and (limit is None or not 1 <= limit <= MEMBER_LIMIT_MOST):
            raise bad_request("member_limit must be between 1 and 99999")
        if limit is not None and params.flag("creates_join_request"):
            raise bad_request("can't combine member_limit with creates_join_request")
        number = next(self._link_numbers)
        url = f"https://t.me/+EmUlAtOr{number:08d}{abs(group.chat['id']) % 10_000:04d}"
        link = InviteLink(url, name, limit, params.integer("expire_date"))
        group.links[url] = link
        return link.as_dict(self._host.bot_as_user())

    async def revoke_chat_invite_link(self, params: Params) -> JSON:
        group = self._group(params, right="manage chat invite links")
        link = group.links.get(params.text("invite_link") or "")
        if link is None:
            raise bad_request("INVITE_HASH_EXPIRED")
        link.is_revoked = True
        return link.as_dict(self._host.bot_as_user())

    async def ban_chat_member(self, params: Params) -> bool:
        group = self._group(params, right="restrict/ban chat member")
        user_id = params.integer("user_id")
        if user_id is None:
            raise bad_request("user not found")
        group.members.discard(user_id)
        group.banned.add(user_id)
        self._host.changed()
        return True

    async def unban_chat_member(self, params: Params) -> bool:
        group = self._group(params, right="restrict/ban chat member")
        user_id = params.integer("user_id")
        if user_id is None:
            raise bad_request("user not found")
        if user_id in group.members and params.flag("only_if_banned"):
            return True
        # Without only_if_banned, unbanning a member removes them, as Telegram does.
        group.members.discard(user_id)
        group.banned.discard(user_id)
        self._host.changed()
        return True
