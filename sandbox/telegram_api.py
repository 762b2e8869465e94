"""A local emulator of the Telegram Bot API, served over real HTTP for tests.

The real python-telegram-bot talks to it through ``Bot(token, base_url=emulator.base_url)``.
It is strict where the real service is strict (lengths, callback data bytes, keyboard shape,
HTML/MarkdownV2 parsing, flood limits, webhook/getUpdates conflicts) and answers with the real
result shapes and error texts, so that a bot that passes here behaves the same against Telegram.

Deliberate deviations from the real service:

- Flood limits apply only when given: ``TelegramEmulator(rate_limits=TELEGRAM_LIMITS)`` answers
  429 as Telegram does (30 messages a second in all, one a second per chat), or stricter
  ``RateLimits`` for a test. Without them a chat takes any number of messages a second, so
  that tests about anything else do not wait out Telegram's pace.

- ``setWebhook`` also accepts ``http://`` URLs (any port) on 127.0.0.1, localhost and ::1,
  because tests serve the receiving end locally without TLS.
- Webhook updates are delivered one at a time in ``update_id`` order (Telegram may use up to
  ``max_connections`` in parallel), and an update that keeps failing is dropped after a few
  quick retries instead of being retried for hours, so that tests end.
- A method call returned in a webhook answer is not executed.
- Files cannot be fetched from URLs (no internet): ``sendDocument`` with a URL answers
  "failed to get HTTP URL content".
- Messages go to private chats only; a chat exists once ``user()`` has created its user.
  Supergroups the bot administers (``groups.add()``) exist for invite links and bans only.
- Payments are in Telegram Stars only (``payments``): no payment provider is emulated.
- Message length is counted in characters; entity offsets are in UTF-16 code units, as real.
- An inline button with more than one action field is refused (Telegram would use one).

Like Telegram, ``allowed_updates`` (given to getUpdates or setWebhook, and remembered) decides
which updates are created at all; updates queued before keep coming. Every request is in
``calls`` from its arrival (status 0 while in flight); a request whose client hung up, like the
long poll PTB abandons when its Updater stops, is recorded with status 499.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import re
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
from aiohttp import web

from .telegram_emulator.common import JSON, ApiError, bad_request, present
from .telegram_emulator.flood import TELEGRAM_LIMITS, RateLimiter, RateLimits
from .telegram_emulator.formatting import (
    MAX_CAPTION_LENGTH,
    check_text_length,
    command_entities,
    formatted,
)
from .telegram_emulator.groups import Groups
from .telegram_emulator.params import Params, UploadedFile, decode_param, read_params
from .telegram_emulator.payments import Payment, Payments
from .telegram_emulator.photos import image_size, photo_sizes
from .telegram_emulator.validation import (
    callback_data_of,
    check_language_code,
    check_secret_token,
    check_webhook_url,
    inline_keyboard,
    scope_key,
    update_types,
    validated_commands,
)

__all__ = [
    "TELEGRAM_LIMITS",
    "ApiCall",
    "Payment",
    "RateLimits",
    "TelegramEmulator",
    "TgUser",
    "UploadedFile",
    "WebhookDelivery",
]

MAX_CALLBACK_ANSWER_LENGTH: Final = 200
MAX_UPLOAD_BYTES: Final = 50 * 1024 * 1024
MAX_DELETE_AGE_SECONDS: Final = 48 * 60 * 60

# Updates that are only sent when asked for by name in allowed_updates.
_OPT_IN_UPDATE_TYPES: Final = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)
_WELL_FORMED_TOKEN: Final = re.compile(r"\d+:[A-Za-z0-9_-]+")
_CHAT_ACTIONS: Final = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
        "upload_document", "choose_sticker", "find_location", "record_video_note",
        "upload_video_note",
    }
)  # fmt: skip

# What nginx in front of the Bot API answers while the backend is down.
_BAD_GATEWAY_HTML: Final = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    "</body>\r\n</html>\r\n"
)


# -- public data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TgUser:
    """A Telegram user that talks to the bot from its private chat (chat id == user id)."""

    id: int
    first_name: str
    username: str | None = None
    language_code: str | None = None
    last_name: str | None = None

    def as_dict(self) -> JSON:
        user: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        names = present(last_name=self.last_name, username=self.username)
        return user | names | present(language_code=self.language_code)

    def private_chat(self) -> JSON:
        chat: JSON = {"id": self.id, "first_name": self.first_name}
        chat |= present(last_name=self.last_name, username=self.username)
        return chat | {"type": "private"}


@dataclass
class ApiCall:
    """One request to the emulator. ``status`` is 0 while the call is still in flight."""

    method: str
    params: dict[str, Any]
    status: int
    response: dict[str, Any]
    at: float


@dataclass(frozen=True)
class WebhookDelivery:
    """One attempt to POST an update to the webhook; status 0 when no HTTP answer came."""

    update: JSON
    status: int
    body: str


# -- internals ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Described:
    """A result that the real API sends along with a human-readable description."""

    result: Any
    description: str


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_name: str
    mime_type: str
    data: bytes
    file_path: str

    def as_document(self) -> JSON:
        return {
            "file_name": self.file_name,
            "mime_type": self.mime_type,
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
        }


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    ip_address: str | None
    has_custom_certificate: bool
    last_error_date: int | None = None
    last_error_message: str | None = None


def _update_type(update: JSON) -> str | None:
    return next((key for key in update if key != "update_id"), None)


_Handler = Callable[[Params], Awaitable[Any]]


class TelegramEmulator:
    """The Bot API of one bot, on 127.0.0.1, with helpers for tests to act as users."""

    # Pauses between webhook delivery attempts; the update is dropped after the last one.
    webhook_retry_delays: tuple[float, ...] = (0.05, 0.2, 0.5)

    def __init__(
        self,
        token: str = "123456789:TEST-fake-token",
        *,
        bot_username: str = "checkout_test_bot",
        rate_limits: RateLimits | None = None,
    ) -> None:
        if not _WELL_FORMED_TOKEN.fullmatch(token):
            raise ValueError(f"a bot token looks like '123456789:secret', not {token!r}")
        self.token = token
        self.bot_user: JSON = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": bot_username.removesuffix("_bot").replace("_", " ").title(),
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.base_url = ""
        self.base_file_url = ""
        self.calls: list[ApiCall] = []
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.too_many_requests = 0
        self._rate_limiter = RateLimiter(rate_limits) if rate_limits else None
        self._outage = False
        self._token_refused = False
        self._closed = False
        self._changed = asyncio.Event()
        self._revision = 0
        self._chats: dict[int, JSON] = {}
        self._users: dict[int, TgUser] = {}
        self._last_message_ids: dict[int, int] = {}
        self._bot_messages: dict[int, dict[int, JSON]] = {}
        self._documents: dict[int, list[tuple[str, bytes]]] = {}
        self._photos: dict[int, list[bytes]] = {}
        # What Telegram would download from an http(s) URL; anything else cannot be fetched,
        # since this machine has no internet.
        self.web_files: dict[str, bytes] = {}
        self._files: dict[str, _StoredFile] = {}
        self._file_numbers = itertools.count(1)
        self._blocked: set[int] = set()
        self._updates: list[JSON] = []
        self._next_update_id = 1
        self._allowed_updates: list[str] = []
        self._poll_generation = 0
        self._open_callback_queries: set[str] = set()
        self._callback_query_ids = itertools.count(4_000_000_000_000_000_001)
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._webhook: _Webhook | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        # Telegram Stars: invoices, payments, refunds; and the groups the bot administers.
        self.payments = Payments(self)
        self.groups = Groups(self)
        self._methods = {name.lower(): (name, handler) for name, handler in self._api().items()}

    # -- lifecycle --

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        # handler_cancellation: a long poll whose client hung up must not linger.
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, sock).start()
        port = sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}/bot"
        self.base_file_url = f"http://127.0.0.1:{port}/file/bot"
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def close(self) -> None:
        self._closed = True
        self._notify()  # lets pending long polls answer before the server goes away
        await self._stop_webhook_delivery()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> TelegramEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- acting as users --

    def user(
        self,
        user_id: int,
        first_name: str = "Ada",
        *,
        username: str | None = None,
        language_code: str | None = "en",
        last_name: str | None = None,
    ) -> TgUser:
        user = TgUser(user_id, first_name, username, language_code, last_name)
        self._chats[user_id] = user.private_chat()
        self._users[user_id] = user
        return user

    async def send_text(self, user: TgUser, text: str) -> JSON:
        # A Telegram client makes the user unblock the bot before they can write to it.
        self._blocked.discard(user.id)
        content: JSON = {"text": text}
        if entities := command_entities(text):
            content["entities"] = entities
        return self.user_message(user, content)

    async def tap(self, user: TgUser, message: dict[str, Any], data: str) -> JSON:
        chat_id = message.get("chat", {}).get("id")
        current = self._bot_messages.get(user.id, {}).get(message.get("message_id", 0))
        if chat_id != user.id or current is None:
            raise ValueError("tap() needs a message that the bot sent to this user's chat")
        if data not in callback_data_of(current):
            # Clients only send data of buttons on screen; forge other data with push_update().
            buttons = callback_data_of(current)
            raise ValueError(f"message has no button with callback_data {data!r}: {buttons}")
        query_id = str(next(self._callback_query_ids))
        self._open_callback_queries.add(query_id)
        query = {
            "id": query_id,
            "from": user.as_dict(),
            "message": copy.deepcopy(current),
            "chat_instance": str(-7_000_000_000_000_000_000 - chat_id),
            "data": data,
        }
        return self._enqueue({"callback_query": query})

    async def forge_tap(self, user: TgUser, message: dict[str, Any], data: str) -> JSON:
        """A callback query with data no button on the message carries, as a modified client
        (or a button from an older version of the bot) sends; the bot may answer it."""
        query_id = str(next(self._callback_query_ids))
        self._open_callback_queries.add(query_id)
        query = {
            "id": query_id,
            "from": user.as_dict(),
            "message": copy.deepcopy(message),
            "chat_instance": str(-7_000_000_000_000_000_000 - user.id),
            "data": data,
        }
        return self._enqueue({"callback_query": query})

    async def pay(self, user: TgUser, message: dict[str, Any]) -> Payment:
        """The user pays an invoice the bot sent them (see Payments.pay)."""
        return await self.payments.pay(user, message)

    async def push_update(self, update: dict[str, Any]) -> JSON:
        if "update_id" in update and not isinstance(update["update_id"], int):
            raise TypeError("update_id must be an int")
        return self._enqueue(copy.deepcopy(update))

    def block(self, user_id: int) -> None:
        self._blocked.add(user_id)

    def unblock(self, user_id: int) -> None:
        self._blocked.discard(user_id)

    @property
    def outage(self) -> bool:
        return self._outage

    @outage.setter
    def outage(self, value: bool) -> None:
        self._outage = value
        self._notify()  # webhook delivery pauses during an outage and resumes after it

    @property
    def token_refused(self) -> bool:
        """Whether the bot's own token is refused as a revoked one is: 401 `Unauthorized` on
        every method (and on file downloads) until it is set back to False."""
        return self._token_refused

    @token_refused.setter
    def token_refused(self, value: bool) -> None:
        self._token_refused = value
        self._notify()

    # -- inspecting what the bot did --

    def calls_to(self, method: str) -> list[ApiCall]:
        return [call for call in self.calls if call.method == method]

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[ApiCall], bool] | None = None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the whole wait, not for I/O
        count: int = 1,
    ) -> list[ApiCall]:
        """The first ``count`` successful calls of ``method`` matching ``predicate``."""

        def matching() -> list[ApiCall]:
            return [
                call
                for call in self.calls
                if call.method == method
                and call.status == 200
                and (predicate is None or predicate(call))
            ]

        if not await self._wait(lambda: len(matching()) >= count, timeout):
            seen = "\n".join(f"  {_describe(call)}" for call in self.calls) or "  (none)"
            raise TimeoutError(
                f"expected {count} successful {method} call(s) matching the predicate within "
                f"{timeout}s, found {len(matching())}. Calls seen:\n{seen}"
            )
        return matching()[:count]

    async def wait_until(
        self,
        condition: Callable[[], bool],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - same meaning as in wait_for()
    ) -> None:
        """Waits for any condition on the emulator's state, e.g. on ``webhook_deliveries``."""
        if not await self._wait(condition, timeout):
            raise TimeoutError(f"condition still false after {timeout}s")

    def messages_to(self, chat_id: int) -> list[dict[str, Any]]:
        """The bot's messages in that chat, in order, as they are now (edits applied)."""
        return copy.deepcopy(list(self._bot_messages.get(chat_id, {}).values()))

    def documents_to(self, chat_id: int) -> list[tuple[str, bytes]]:
        return list(self._documents.get(chat_id, []))

    def photos_to(self, chat_id: int) -> list[bytes]:
        """The image bytes of every photo the bot sent to that chat, in order."""
        return list(self._photos.get(chat_id, []))

    def file_content(self, file_id: str) -> tuple[str, str, bytes] | None:
        """A file the bot sent, as a client downloads it: name, MIME type and bytes. Any size of
        a photo names the photo's file (the emulator keeps one image, not each scaled copy)."""
        for stored in self._files.values():
            if file_id == stored.file_id or file_id.startswith(stored.file_id + "-"):
                return stored.file_name, stored.mime_type, stored.data
        return None

    @property
    def revision(self) -> int:
        """A number that grows whenever the emulator's state may have changed (a call arrived or
        was answered, an update was queued, a message deleted): a viewer redraws when it moves,
        waiting with ``wait_until(lambda: emulator.revision != seen)``."""
        return self._revision

    def commands(self, scope: dict[str, Any] | None = None, language_code: str = "") -> list[JSON]:
        return copy.deepcopy(self._commands.get((scope_key(scope), language_code), []))

    def menu_of(self, user: TgUser) -> list[JSON]:
        """The menu `user` sees in their chat with the bot: the first list set among the scopes
        Telegram tries, in its documented order ("Determining list of commands")."""
        language = (user.language_code or "").split("-")[0]
        for scope in (
            {"type": "chat", "chat_id": user.id},
            {"type": "all_private_chats"},
            {"type": "default"},
        ):
            for code in (language, ""):
                found = self._commands.get((scope_key(scope), code))
                if found:
                    return copy.deepcopy(found)
        return []

    # -- what the payments and groups parts use --

    def chat_of(self, params: Params) -> JSON:
        return self._chat(params)

    def check_can_send(self, chat_id: int) -> None:
        self._check_can_send(chat_id)

    def post(self, chat: JSON, content: JSON, params: Params) -> JSON:
        """A message from the bot, with the inline keyboard given in `params`."""
        return self._post_message(
            chat, content, inline_keyboard(params.value("reply_markup")), params
        )

    def enqueue_update(self, update: JSON) -> JSON:
        return self._enqueue(update)

    def user_message(self, user: TgUser, content: JSON) -> JSON:
        """A message the user sends in their chat with the bot (text, or a service message)."""
        chat = self._chats.setdefault(user.id, user.private_chat())
        message: JSON = {
            "message_id": self._next_message_id(user.id),
            "from": user.as_dict(),
            "chat": dict(chat),
            "date": int(time.time()),
            **content,
        }
        return self._enqueue({"message": message})

    def user_of(self, user_id: int) -> TgUser:
        """The user as user() last made them."""
        return self._users[user_id]

    def has_message(self, chat_id: int, message_id: int) -> bool:
        """Whether the bot's message is in the chat (sent, and not deleted)."""
        return message_id in self._bot_messages.get(chat_id, {})

    def bot_as_user(self) -> JSON:
        return {key: self.bot_user[key] for key in ("id", "is_bot", "first_name", "username")}

    def changed(self) -> None:
        self._notify()

    # -- plumbing --

    def _notify(self) -> None:
        """Wakes every waiter to re-check its condition (a broadcast, like notify_all)."""
        self._revision += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait(self, condition: Callable[[], bool], seconds: float | None) -> bool:
        """Waits until ``condition()`` holds; False if ``seconds`` passed first."""
        try:
            async with asyncio.timeout(seconds):
                while not condition():
                    await self._changed.wait()
        except TimeoutError:
            return False
        return True

    def _enqueue(self, update: JSON) -> JSON:
        if "update_id" not in update:
            update = {"update_id": self._next_update_id} | update
        self._next_update_id = max(self._next_update_id, update["update_id"] + 1)
        kind = _update_type(update)
        allowed = self._allowed_updates
        # Like Telegram, allowed_updates decides which updates get created at all.
        if kind is None or (kind in allowed if allowed else kind not in _OPT_IN_UPDATE_TYPES):
            self._updates.append(update)
            self._notify()
        return copy.deepcopy(update)

    def _next_message_id(self, chat_id: int) -> int:
        # In a private chat both sides share one message id sequence.
        self._last_message_ids[chat_id] = self._last_message_ids.get(chat_id, 0) + 1
        return self._last_message_ids[chat_id]

    async def _handle_api(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        method = self._methods.get(name.lower())
        call = ApiCall(method[0] if method else name, {}, 0, {}, time.monotonic())
        self.calls.append(call)
        self._notify()
        if self._outage:
            with contextlib.suppress(ApiError):  # still show tests what the bot tried to send
                call.params = (await read_params(request)).recorded()
            self._finish(call, ApiError(502, "Bad Gateway").body())
            return web.Response(status=502, text=_BAD_GATEWAY_HTML, content_type="text/html")
        try:
            result = await self._dispatch(request, call, method)
        except ApiError as error:
            body = error.body()
        except asyncio.CancelledError:
            self._finish(call, ApiError(499, "client went away").body())
            raise
        except Exception as exc:  # an emulator bug: answer like a failing server, and say why
            body = ApiError(500, f"Internal Server Error: {exc!r}").body()
        else:
            body = {"ok": True, "result": result}
            if isinstance(result, _Described):
                body = {"ok": True, "result": result.result, "description": result.description}
        self._finish(call, body)
        return web.json_response(body, status=call.status)

    async def _dispatch(
        self, request: web.Request, call: ApiCall, method: tuple[str, _Handler] | None
    ) -> Any:
        self._check_token(request.match_info["token"])
        if method is None:
            raise ApiError(404, "Not Found")
        params = await read_params(request)
        call.params = params.recorded()
        return await method[1](params)

    def _finish(self, call: ApiCall, body: JSON) -> None:
        call.status = body.get("error_code", 200)
        call.response = body
        if call.status == 429:
            self.too_many_requests += 1
        self._notify()

    def _check_token(self, token: str) -> None:
        if token == self.token and not self._token_refused:
            return
        if _WELL_FORMED_TOKEN.fullmatch(token):
            raise ApiError(401, "Unauthorized")
        raise ApiError(404, "Not Found")

    async def _handle_file(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        stored = next((f for f in self._files.values() if f.file_path == path), None)
        if request.match_info["token"] == self.token and self._token_refused:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        if request.match_info["token"] != self.token or stored is None:
            return web.json_response(ApiError(404, "Not Found").body(), status=404)
        return web.Response(body=stored.data, content_type=stored.mime_type)

    def _api(self) -> dict[str, _Handler]:
        return {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "sendDocument": self._send_document,
            "sendPhoto": self._send_photo,
            "sendChatAction": self._send_chat_action,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "editMessageCaption": self._edit_message_caption,
            "editMessageMedia": self._edit_message_media,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "getFile": self._get_file,
            "sendInvoice": self.payments.send_invoice,
            "answerPreCheckoutQuery": self.payments.answer_pre_checkout_query,
            "refundStarPayment": self.payments.refund_star_payment,
            "createChatInviteLink": self.groups.create_chat_invite_link,
            "revokeChatInviteLink": self.groups.revoke_chat_invite_link,
            "banChatMember": self.groups.ban_chat_member,
            "unbanChatMember": self.groups.unban_chat_member,
        }

    # -- Bot API methods: bot and updates --

    async def _get_me(self, params: Params) -> JSON:
        return dict(self.bot_user)

    async def _get_updates(self, params: Params) -> list[JSON]:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        if "allowed_updates" in params:
            self._allowed_updates = update_types(params.value("allowed_updates"))
        if offset := params.integer("offset"):
            self._confirm_updates(offset)
        limit = min(max(params.integer("limit") or 100, 1), 100)
        self._poll_generation += 1
        generation = self._poll_generation

        def superseded() -> bool:
            return self._poll_generation != generation

        await self._wait(
            lambda: bool(self._updates) or self._closed or superseded(),
            max(params.number("timeout") or 0.0, 0.0),
        )
        if superseded() and self._webhook is not None:
            raise ApiError(409, "Conflict: terminated by setWebhook request")
        if superseded():
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        return copy.deepcopy(self._updates[:limit])

    def _confirm_updates(self, offset: int) -> None:
        if offset < 0:  # -N keeps only the last N updates
            self._updates = self._updates[offset:]
        else:
            self._updates = [update for update in self._updates if update["update_id"] >= offset]

    async def _set_webhook(self, params: Params) -> _Described:
        url = params.text("url") or ""
        if not url:  # an empty URL removes the webhook, as in the real API
            return _Described(True, await self._remove_webhook(params.flag("drop_pending_updates")))
        check_webhook_url(url)
        secret = params.text("secret_token") or None
        check_secret_token(secret)
        if "allowed_updates" in params:
            self._allowed_updates = update_types(params.value("allowed_updates"))
        if params.flag("drop_pending_updates"):
            self._updates.clear()
        unchanged = self._webhook is not None and self._webhook.url == url
        self._webhook = _Webhook(
            url=url,
            secret_token=secret,
            max_connections=min(max(params.integer("max_connections") or 40, 1), 100),
            ip_address=params.text("ip_address"),
            has_custom_certificate="certificate" in params.files,
        )
        self._poll_generation += 1  # ends a pending getUpdates
        self._notify()
        await self._stop_webhook_delivery()
        self._webhook_task = asyncio.create_task(self._deliver_updates(self._webhook))
        return _Described(True, "Webhook is already set" if unchanged else "Webhook was set")

    async def _delete_webhook(self, params: Params) -> _Described:
        return _Described(True, await self._remove_webhook(params.flag("drop_pending_updates")))

    async def _remove_webhook(self, drop_pending_updates: bool) -> str:
        description = "Webhook was deleted" if self._webhook else "Webhook is already deleted"
        self._webhook = None
        await self._stop_webhook_delivery()
        if drop_pending_updates:
            self._updates.clear()
        return description

    async def _get_webhook_info(self, params: Params) -> JSON:
        hook = self._webhook
        info: JSON = {
            "url": hook.url if hook else "",
            "has_custom_certificate": bool(hook and hook.has_custom_certificate),
            "pending_update_count": len(self._updates),
        }
        if hook is not None:
            info |= present(
                ip_address=hook.ip_address,
                last_error_date=hook.last_error_date,
                last_error_message=hook.last_error_message,
            )
            info["max_connections"] = hook.max_connections
        if self._allowed_updates:
            info["allowed_updates"] = list(self._allowed_updates)
        return info

    async def _stop_webhook_delivery(self) -> None:
        task, self._webhook_task = self._webhook_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _deliver_updates(self, hook: _Webhook) -> None:
        while True:
            await self._wait(lambda: bool(self._updates) and not self._outage, None)
            update = self._updates[0]
            await self._deliver(hook, update)
            # Delivered or given up on: either way it leaves the queue, unlike getUpdates.
            if self._updates and self._updates[0] is update:
                self._updates.pop(0)
                self._notify()

    async def _deliver(self, hook: _Webhook, update: JSON) -> None:
        for delay in (0.0, *self.webhook_retry_delays):
            if delay:
                await asyncio.sleep(delay)  # backoff between retries, as Telegram does
            status, body, error = await self._post_update(hook, update)
            self.webhook_deliveries.append(WebhookDelivery(copy.deepcopy(update), status, body))
            self._notify()
            if error is None:
                return
            hook.last_error_date, hook.last_error_message = int(time.time()), error

    async def _post_update(self, hook: _Webhook, update: JSON) -> tuple[int, str, str | None]:
        """POSTs one update; returns (status, body, error message or None on success)."""
        assert self._session is not None, "start() the emulator first"
        headers = present(**{"X-Telegram-Bot-Api-Secret-Token": hook.secret_token})
        try:
            async with self._session.post(hook.url, json=update, headers=headers) as response:
                body = await response.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            return 0, "", _connection_error(exc)
        if 200 <= response.status < 300:
            return response.status, body, None
        return (
            response.status,
            body,
            f"Wrong response from the webhook: {response.status} {response.reason}",
        )

    # -- Bot API methods: commands --

    async def _set_my_commands(self, params: Params) -> bool:
        commands = validated_commands(params.value("commands"))
        key = self._commands_key(params)
        if commands:
            self._commands[key] = commands
        else:  # an empty list resets the commands of that scope, as in the real API
            self._commands.pop(key, None)
        return True

    async def _get_my_commands(self, params: Params) -> list[JSON]:
        return copy.deepcopy(self._commands.get(self._commands_key(params), []))

    async def _delete_my_commands(self, params: Params) -> bool:
        self._commands.pop(self._commands_key(params), None)
        return True

    def _commands_key(self, params: Params) -> tuple[str, str]:
        scope = params.value("scope")
        key = scope_key(scope)
        for name in ("chat_id", "user_id"):
            chat_id = decode_param("chat_id", scope.get(name)) if scope else None
            if chat_id is not None and chat_id not in self._chats:
                raise bad_request("chat not found" if name == "chat_id" else "user not found")
        language_code = params.text("language_code") or ""
        check_language_code(language_code)
        return key, language_code

    # -- Bot API methods: messages --

    def _chat(self, params: Params) -> JSON:
        chat_id = params.value("chat_id")
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        chat = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def _check_reply_target(self, chat: JSON, params: Params) -> None:
        reply = params.value("reply_parameters")
        reply = reply if isinstance(reply, dict) else {}
        message_id = reply.get("message_id", params.integer("reply_to_message_id"))
        if message_id is None or reply.get("allow_sending_without_reply"):
            return
        last_message_id = self._last_message_ids.get(chat["id"], 0)
        if not (isinstance(message_id, int) and 0 < message_id <= last_message_id):
            raise bad_request("message to be replied not found")

    def _check_can_send(self, chat_id: int) -> None:
        if chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        self._check_flood(chat_id)

    def _check_flood(self, chat_id: int) -> None:
        if self._rate_limiter and (retry_after := self._rate_limiter.acquire(chat_id)):
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )

    def _post_message(self, chat: JSON, content: JSON, markup: JSON | None, params: Params) -> JSON:
        bot = self.bot_user
        message: JSON = {
            "message_id": self._next_message_id(chat["id"]),
            "from": {key: bot[key] for key in ("id", "is_bot", "first_name", "username")},
            "chat": dict(chat),
            "date": int(time.time()),
            **content,
        }
        if params.flag("protect_content"):
            message["has_protected_content"] = True
        if markup is not None:
            message["reply_markup"] = markup
        self._bot_messages.setdefault(chat["id"], {})[message["message_id"]] = message
        return copy.deepcopy(message)

    async def _send_message(self, params: Params) -> JSON:
        chat = self._chat(params)
        text, entities = formatted(
            params.text("text") or "", params.text("parse_mode"), params.value("entities")
        )
        check_text_length(text)
        markup = inline_keyboard(params.value("reply_markup"))
        self._check_reply_target(chat, params)
        self._check_can_send(chat["id"])
        content: JSON = {"text": text} | ({"entities": entities} if entities else {})
        return self._post_message(chat, content, markup, params)

    async def _send_document(self, params: Params) -> JSON:
        chat = self._chat(params)
        document = self._document(params.file("document"))
        caption = self._caption(params)
        markup = inline_keyboard(params.value("reply_markup"))
        self._check_reply_target(chat, params)
        self._check_can_send(chat["id"])
        self._files[document.file_id] = document
        self._documents.setdefault(chat["id"], []).append((document.file_name, document.data))
        content: JSON = {"document": document.as_document()} | caption
        return self._post_message(chat, content, markup, params)

    def _caption(self, params: Params) -> JSON:
        """A media message's caption and its entities, checked as Telegram checks them."""
        caption, entities = formatted(
            params.text("caption") or "",
            params.text("parse_mode"),
            params.value("caption_entities"),
        )
        if len(caption) > MAX_CAPTION_LENGTH:
            raise bad_request("message caption is too long")
        return present(caption=caption or None, caption_entities=entities or None)

    async def _send_photo(self, params: Params) -> JSON:
        chat = self._chat(params)
        stored = self._photo(params.file("photo"))
        caption = self._caption(params)
        markup = inline_keyboard(params.value("reply_markup"))
        self._check_reply_target(chat, params)
        self._check_can_send(chat["id"])
        self._files[stored.file_id] = stored
        self._photos.setdefault(chat["id"], []).append(stored.data)
        width, height = image_size(stored.data)
        content: JSON = {
            "photo": photo_sizes(
                stored.file_id, stored.file_unique_id, width, height, len(stored.data)
            )
        }
        return self._post_message(chat, content | caption, markup, params)

    def _photo(self, given: UploadedFile | str | None) -> _StoredFile:
        """An uploaded image, a file_id sent before, or an http(s) URL Telegram downloads."""
        if isinstance(given, str) and given.startswith(("http://", "https://")):
            if given not in self.web_files:
                raise bad_request("failed to get HTTP URL content")
            name = given.rstrip("/").rpartition("/")[2] or "photo.jpg"
            given = UploadedFile(name, "image/jpeg", self.web_files[given])
        if isinstance(given, str):
            for stored in self._files.values():
                if given.startswith(stored.file_id):  # any size of a photo sent before
                    return stored
            raise bad_request("wrong file identifier/HTTP URL specified")
        if given is None:
            raise bad_request("there is no photo in the request")
        image_size(given.data)  # refuses what is not an image, as Telegram does
        number = next(self._file_numbers)
        return _StoredFile(
            file_id=f"AgACAgIAAxkBAAIC{number:06d}ZW11bGF0b3I",
            file_unique_id=f"AQAD{number:06d}",
            file_name=given.file_name,
            mime_type=given.mime_type or "image/jpeg",
            data=given.data,
            file_path=f"photos/file_{number}.jpg",
        )

    def _document(self, given: UploadedFile | str | None) -> _StoredFile:
        if isinstance(given, UploadedFile):
            if not given.data:
                raise bad_request("file must be non-empty")
            number = next(self._file_numbers)
            suffix = given.file_name.rpartition(".")[2] if "." in given.file_name else "bin"
            return _StoredFile(
                file_id=f"BQACAgIAAxkBAAIB{number:06d}ZW11bGF0b3I",
                file_unique_id=f"AgAD{number:06d}",
                file_name=given.file_name,
                mime_type=given.mime_type or "application/octet-stream",
                data=given.data,
                file_path=f"documents/file_{number}.{suffix}",
            )
        if not given:
            raise bad_request("there is no document in the request")
        if given in self._files:
            return self._files[given]
        if given.startswith(("http://", "https://")):
            raise bad_request("failed to get HTTP URL content")  # no internet here
        raise bad_request("wrong file identifier/HTTP URL specified")

    async def _send_chat_action(self, params: Params) -> bool:
        chat = self._chat(params)
        if params.text("action") not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        if chat["id"] in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return True

    def _message_to_edit(self, params: Params) -> JSON:
        if params.value("inline_message_id") is not None:
            raise bad_request("message to edit not found")  # no inline messages here
        chat = self._chat(params)
        message_id = params.integer("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = self._bot_messages.get(chat["id"], {}).get(message_id)
        if message is None and 0 < message_id <= self._last_message_ids.get(chat["id"], 0):
            raise bad_request("message can't be edited")  # the user's own message
        if message is None:
            raise bad_request("message to edit not found")
        return message

    async def _edit_message_text(self, params: Params) -> JSON:
        message = self._message_to_edit(params)
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        text, entities = formatted(
            params.text("text") or "", params.text("parse_mode"), params.value("entities")
        )
        check_text_length(text)
        edited = {key: value for key, value in message.items() if key != "entities"}
        edited |= {"text": text} | ({"entities": entities} if entities else {})
        return self._apply_edit(message, edited, inline_keyboard(params.value("reply_markup")))

    async def _edit_message_reply_markup(self, params: Params) -> JSON:
        message = self._message_to_edit(params)
        return self._apply_edit(
            message, dict(message), inline_keyboard(params.value("reply_markup"))
        )

    async def _edit_message_caption(self, params: Params) -> JSON:
        message = self._message_to_edit(params)
        if not _has_media(message):
            raise bad_request("there is no caption in the message to edit")
        caption, entities = _caption(
            params.text("caption"), params.text("parse_mode"), params.value("caption_entities")
        )
        edited = {k: v for k, v in message.items() if k not in ("caption", "caption_entities")}
        edited |= present(caption=caption or None, caption_entities=entities or None)
        return self._apply_edit(message, edited, inline_keyboard(params.value("reply_markup")))

    async def _edit_message_media(self, params: Params) -> JSON:
        """Replace a message's photo, or add one to a text message (Bot API 9.x)."""
        message = self._message_to_edit(params)
        media = params.value("media")
        if not isinstance(media, dict):
            raise bad_request("can't parse InputMedia: media is not specified")
        if media.get("type") != "photo":
            raise bad_request("wrong type of the web page content")  # only photos here
        given = media.get("media")
        if isinstance(given, str) and given.startswith("attach://"):
            given = params.files.get(given.removeprefix("attach://"))
            if given is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
        stored = self._photo(given)
        caption, entities = _caption(
            media.get("caption"), media.get("parse_mode"), media.get("caption_entities")
        )
        width, height = image_size(stored.data)
        sizes = photo_sizes(stored.file_id, stored.file_unique_id, width, height, len(stored.data))
        edited = {
            key: value
            for key, value in message.items()
            if key not in ("text", "entities", "photo", "caption", "caption_entities")
        }
        edited |= {"photo": sizes}
        edited |= present(caption=caption or None, caption_entities=entities or None)
        result = self._apply_edit(message, edited, inline_keyboard(params.value("reply_markup")))
        self._files[stored.file_id] = stored
        self._photos.setdefault(message["chat"]["id"], []).append(stored.data)
        return result

    async def _delete_message(self, params: Params) -> bool:
        chat = self._chat(params)
        message_id = params.integer("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        messages = self._bot_messages.get(chat["id"], {})
        message = messages.get(message_id)
        if message is None:
            raise bad_request("message to delete not found")
        # Bots delete their own messages in private chats only within 48 hours.
        if time.time() - message["date"] > MAX_DELETE_AGE_SECONDS:
            raise bad_request("message can't be deleted")
        del messages[message_id]
        self._notify()
        return True

    def _apply_edit(self, message: JSON, edited: JSON, markup: JSON | None) -> JSON:
        # Omitting reply_markup in an edit removes the keyboard, as in the real API.
        edited.pop("reply_markup", None)
        edited.pop("edit_date", None)
        if markup is not None:
            edited["reply_markup"] = markup
        if edited == {key: value for key, value in message.items() if key != "edit_date"}:
            raise bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        chat_id = message["chat"]["id"]
        self._check_flood(chat_id)
        edited["edit_date"] = int(time.time())
        self._bot_messages[chat_id][message["message_id"]] = edited
        return copy.deepcopy(edited)

    async def _answer_callback_query(self, params: Params) -> bool:
        query_id = params.text("callback_query_id") or ""
        if query_id not in self._open_callback_queries:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        if len(params.text("text") or "") > MAX_CALLBACK_ANSWER_LENGTH:
            raise bad_request("MESSAGE_TOO_LONG")
        url = params.text("url")
        # Outside games, only links that start this bot are allowed.
        username = re.escape(self.bot_user["username"])
        start_link = rf"(https?://)?(t|telegram)\.me/{username}\?start=[\w-]{{1,64}}"
        if url and not re.fullmatch(start_link, url, re.IGNORECASE):
            raise bad_request("URL_INVALID")
        self._open_callback_queries.discard(query_id)
        return True

    async def _get_file(self, params: Params) -> JSON:
        stored = self._files.get(params.text("file_id") or "")
        if stored is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }


def _caption(text: str | None, parse_mode: str | None, entities: Any) -> tuple[str, list[JSON]]:
    caption, parsed = formatted(text or "", parse_mode, entities)
    if len(caption) > MAX_CAPTION_LENGTH:
        raise bad_request("message caption is too long")
    return caption, parsed


def _has_media(message: JSON) -> bool:
    return any(key in message for key in ("photo", "document", "video", "animation", "audio"))


def _connection_error(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "Read timeout expired"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "Connection refused"
    return f"Connection failed: {exc}"


def _describe(call: ApiCall) -> str:
    params = json.dumps(call.params, default=repr, ensure_ascii=False)
    params = params if len(params) <= 160 else params[:157] + "..."
    outcome = call.response.get("description", "ok") if call.status != 200 else "ok"
    return f"{call.method} -> {call.status or 'in flight'} {outcome} {params}"
