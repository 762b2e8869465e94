"""Request parameters, decoded from any of the encodings the Bot API accepts.

PTB posts application/x-www-form-urlencoded (multipart/form-data when files are attached) in
which every non-string value is JSON-encoded: ``chat_id=42``, ``reply_markup={"inline_keyboard":
...}``, ``disable_notification=true``. The real API knows each parameter's type, so decoding
is by name here too: a text of "123" stays a string.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from .common import ApiError, bad_request

_JSON_PARAMS: Final = frozenset(
    {
        "reply_markup", "allowed_updates", "commands", "scope", "link_preview_options",
        "reply_parameters", "entities", "caption_entities", "media", "prices",
        "suggested_tip_amounts",
    }
)  # fmt: skip
_INT_PARAMS: Final = frozenset(
    {
        "message_id", "offset", "limit", "max_connections", "cache_time", "reply_to_message_id",
        "user_id", "member_limit", "expire_date", "until_date", "max_tip_amount",
    }
)  # fmt: skip
_FLOAT_PARAMS: Final = frozenset({"timeout"})  # PTB sends fractions of a second as they are
_BOOL_PARAMS: Final = frozenset(
    {
        "disable_notification", "protect_content", "show_alert", "drop_pending_updates",
        "allow_sending_without_reply", "disable_content_type_detection", "disable_web_page_preview",
        "ok", "revoke_messages", "only_if_banned", "creates_join_request",
    }
)  # fmt: skip
_INTEGER: Final = re.compile(r"-?\d+")


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request, as recorded in ``ApiCall.params``."""

    file_name: str
    mime_type: str
    data: bytes


def decode_param(name: str, value: Any) -> Any:
    """One parameter's value as the Bot API reads it, going by the parameter's type."""
    if name in _JSON_PARAMS and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            what = "reply keyboard markup" if name == "reply_markup" else name
            raise bad_request(f"can't parse {what} JSON object") from None
    if name == "chat_id" and isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    if (name in _INT_PARAMS or name in _FLOAT_PARAMS) and value is not None:
        return _number(name, value, whole=name in _INT_PARAMS)
    if name in _BOOL_PARAMS and isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return value


def _number(name: str, value: Any, *, whole: bool) -> int | float:
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if number.is_integer():
        return int(number)
    if whole or not math.isfinite(number):
        raise bad_request(f'field "{name}" must be a number')
    return number


class Params:
    """Decoded request parameters with typed accessors that fail like the Bot API does."""

    def __init__(self, values: dict[str, Any], files: dict[str, UploadedFile]) -> None:
        self.values = {name: decode_param(name, value) for name, value in values.items()}
        self.files = files

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def value(self, name: str) -> Any:
        return self.values.get(name)

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise bad_request(f'field "{name}" must be of type String')

    def integer(self, name: str) -> int | None:
        value = self.values.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def number(self, name: str) -> float | None:
        value = self.values.get(name)
        return float(value) if isinstance(value, int | float) else None

    def flag(self, name: str) -> bool:
        return self.values.get(name) is True

    def file(self, name: str) -> UploadedFile | str | None:
        if name in self.files:
            return self.files[name]
        value = self.text(name)
        if value and value.startswith("attach://"):
            return self.files.get(value.removeprefix("attach://"), value)
        return value

    def recorded(self) -> dict[str, Any]:
        return self.values | self.files


async def read_params(request: web.Request) -> Params:
    """Parameters from the query string and a JSON, url-encoded or multipart body, like Telegram."""
    values: dict[str, Any] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if request.body_exists and request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("can't parse JSON encoded request body") from None
        if not isinstance(body, dict):
            raise bad_request("JSON request body must be an object")
        values |= body
    elif request.body_exists and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        try:
            form = await request.post()
        except web.HTTPRequestEntityTooLarge:
            raise ApiError(413, "Request Entity Too Large") from None
        for name, value in form.items():
            if isinstance(value, web.FileField):
                data = value.file.read()
                files[name] = UploadedFile(value.filename, value.content_type, data)
            else:
                values[name] = value if isinstance(value, str) else bytes(value).decode()
    return Params(values, files)
