"""Checks of structured parameters: inline keyboards, bot commands, webhook settings."""

from __future__ import annotations

import json
import re
from typing import Any, Final
from urllib.parse import urlsplit

from .common import JSON, bad_request
from .params import decode_param

MAX_CALLBACK_DATA_BYTES: Final = 64
MAX_INLINE_BUTTONS: Final = 100
MAX_COMMANDS: Final = 100

_WEBHOOK_PORTS: Final = frozenset({80, 88, 443, 8443})
_LOCAL_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})
_SECRET_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{1,256}")
_BOT_COMMAND_NAME: Final = re.compile(r"[a-z0-9_]{1,32}")
_LANGUAGE_CODE: Final = re.compile(r"[a-z]{2}")
_SCOPE_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "default": (),
    "all_private_chats": (),
    "all_group_chats": (),
    "all_chat_administrators": (),
    "chat": ("chat_id",),
    "chat_administrators": ("chat_id",),
    "chat_member": ("chat_id", "user_id"),
}
_BUTTON_ACTIONS: Final = frozenset(
    {
        "url", "callback_data", "web_app", "login_url", "switch_inline_query",
        "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
        "callback_game", "pay",
    }
)  # fmt: skip


# -- reply markup ------------------------------------------------------------------------------


def inline_keyboard(markup: Any) -> JSON | None:
    """Validates reply_markup; returns what the sent Message shows (only inline keyboards)."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        if markup.keys() & {"keyboard", "remove_keyboard", "force_reply"}:
            return None  # reply keyboards are accepted but are not part of the Message
        raise bad_request("can't parse reply keyboard markup JSON object")
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'can\'t parse reply keyboard markup JSON object: Field "inline_keyboard" of the '
            "InlineKeyboardMarkup should be an Array of Arrays"
        )
    buttons = [button for row in rows for button in row]
    if len(buttons) > MAX_INLINE_BUTTONS:
        raise bad_request("reply markup is too long")
    for button in buttons:
        _check_button(button)
    rows = [row for row in rows if row]
    return {"inline_keyboard": rows} if rows else None


def _check_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    if not isinstance(button.get("text"), str):
        raise bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    if not button["text"].strip():
        raise bad_request("can't parse inline keyboard button: Text must be non-empty")
    actions = button.keys() & _BUTTON_ACTIONS
    if not actions:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if len(actions) > 1:
        raise bad_request(
            "can't parse inline keyboard button: exactly one of the optional fields must be used"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        _check_button_url(button["url"])


def _check_button_url(url: Any) -> None:
    if not isinstance(url, str):
        raise bad_request('can\'t parse inline keyboard button: Field "url" must be of type String')
    parts = urlsplit(url)
    if "://" not in url and parts.scheme != "tg":
        problem = "Wrong HTTP URL"
    elif parts.scheme not in ("http", "https", "tg"):
        problem = "Unsupported URL protocol"
    elif parts.scheme != "tg" and not parts.hostname:
        problem = "Wrong HTTP URL"
    else:
        return
    raise bad_request(f"inline keyboard button URL '{url}' is invalid: {problem}")


def callback_data_of(message: JSON) -> list[str]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [button["callback_data"] for row in rows for button in row if "callback_data" in button]


# -- bot commands ------------------------------------------------------------------------------


def scope_key(scope: Any) -> str:
    scope = {"type": "default"} if scope is None else scope
    if not isinstance(scope, dict) or scope.get("type") not in _SCOPE_FIELDS:
        raise bad_request("can't parse BotCommandScope: unsupported scope type")
    key = {"type": scope["type"]}
    for name in _SCOPE_FIELDS[scope["type"]]:
        if scope.get(name) is None:
            raise bad_request(f'can\'t parse BotCommandScope: field "{name}" must be specified')
        key[name] = decode_param("chat_id", scope[name])
    return json.dumps(key, sort_keys=True)


def validated_commands(value: Any) -> list[JSON]:
    if not isinstance(value, list):
        raise bad_request("can't parse commands JSON object")
    if len(value) > MAX_COMMANDS:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    commands = []
    for item in value:
        item = item if isinstance(item, dict) else {}
        command, description = item.get("command"), item.get("description")
        if not isinstance(command, str) or not _BOT_COMMAND_NAME.fullmatch(command):
            raise bad_request("BOT_COMMAND_INVALID")
        if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        commands.append({"command": command, "description": description})
    return commands


def check_language_code(language_code: str) -> None:
    if language_code and not _LANGUAGE_CODE.fullmatch(language_code):
        raise bad_request("invalid language code specified")


# -- updates and webhooks ----------------------------------------------------------------------


def update_types(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise bad_request("can't parse allowed_updates JSON object")
    return list(value)


def check_webhook_url(url: str) -> None:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise bad_request("bad webhook: Wrong port number specified in the URL") from None
    if parts.hostname in _LOCAL_HOSTS and parts.scheme in ("http", "https"):
        return  # a deviation for local test servers, see sandbox/telegram_api.py
    if parts.scheme != "https" or not parts.hostname:
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    if (port or 443) not in _WEBHOOK_PORTS:
        raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")


def check_secret_token(secret: str | None) -> None:
    if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
        raise bad_request("secret token contains unallowed characters")
