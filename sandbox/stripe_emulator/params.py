"""Typed reads of decoded form values, each failing with the error Stripe gives.

Every reader takes the raw decoded value and the parameter's full name
(``line_items[0][quantity]``), because Stripe names the exact parameter in
``error.param`` and the bot's tests assert on it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from .errors import invalid_request

__all__ = [
    "child",
    "only_one_of",
    "read_array",
    "read_bool",
    "read_decimal",
    "read_email",
    "read_enum",
    "read_expand",
    "read_hash",
    "read_int",
    "read_metadata",
    "read_string",
    "read_url",
    "reject_unknown",
]

METADATA_MAX_KEYS = 50
METADATA_MAX_KEY_LENGTH = 40
METADATA_MAX_VALUE_LENGTH = 500
URL_MAX_LENGTH = 5000

_INTEGER = re.compile(r"^-?\d+$")
_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def child(param: str, name: str | int) -> str:
    """The full name of a nested parameter: ``child("line_items", 0)`` -> ``line_items[0]``."""
    return f"{param}[{name}]" if param else str(name)


def reject_unknown(values: Mapping[str, Any], allowed: Collection[str], param: str = "") -> None:
    for name in values:
        if name not in allowed:
            full = child(param, name)
            raise invalid_request(f"Received unknown parameter: {full}", full)


def only_one_of(values: Mapping[str, Any], names: tuple[str, str], param: str = "") -> None:
    if all(name in values for name in names):
        raise invalid_request(
            f"You may only specify one of these parameters: {', '.join(names)}.",
            child(param, names[1]),
        )


def read_hash(value: Any, param: str) -> dict[str, Any]:
    if value == "":
        # An empty value is how the API is told "no hash" (it unsets on update).
        return {}
    if isinstance(value, list):
        # The decoder turns keys "0".."n-1" into a list; for a hash they are keys.
        return {str(index): item for index, item in enumerate(value)}
    if not isinstance(value, dict):
        raise invalid_request("Invalid hash", param)
    return value


def read_array(value: Any, param: str) -> list[Any]:
    if value == "":
        return []
    if not isinstance(value, list):
        raise invalid_request("Invalid array", param)
    return value


def _reject_empty(value: Any, param: str) -> None:
    # To Stripe an empty value means "unset", which these parameters cannot be.
    if value == "":
        raise invalid_request(
            f"You passed an empty string for '{param}'. We assume empty values are an "
            f"attempt to unset a parameter; however '{param}' cannot be unset. You should "
            f"remove '{param}' from your request or supply a non-empty value.",
            param,
            "parameter_invalid_empty",
        )


def read_string(value: Any, param: str, *, max_length: int | None = None) -> str:
    _reject_empty(value, param)
    if not isinstance(value, str):
        raise invalid_request(f"Invalid string: {_render(value)}", param)
    if max_length is not None and len(value) > max_length:
        raise invalid_request(
            f"Invalid string: {value}; must be at most {max_length} characters", param
        )
    return value


def read_int(
    value: Any, param: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    _reject_empty(value, param)
    if not isinstance(value, str) or not _INTEGER.match(value):
        raise invalid_request(f"Invalid integer: {_render(value)}", param)
    number = int(value)
    if minimum is not None and number < minimum:
        raise invalid_request(f"This value must be greater than or equal to {minimum}.", param)
    if maximum is not None and number > maximum:
        raise invalid_request(f"This value must be less than or equal to {maximum}.", param)
    return number


def read_decimal(value: Any, param: str, *, max_places: int = 12) -> Decimal:
    _reject_empty(value, param)
    if not isinstance(value, str) or not _DECIMAL.match(value):
        raise invalid_request(f"Invalid decimal: {_render(value)}", param)
    try:
        number = Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern already rules this out
        raise invalid_request(f"Invalid decimal: {value}", param) from None
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > max_places:
        raise invalid_request(
            f"Invalid decimal: {value}; must have at most {max_places} decimal places", param
        )
    return number


def read_bool(value: Any, param: str) -> bool:
    _reject_empty(value, param)
    if value in ("true", "false"):
        return bool(value == "true")
    raise invalid_request(f"Invalid boolean: {_render(value)}", param)


def read_enum(value: Any, param: str, choices: Collection[str]) -> str:
    text = read_string(value, param)
    if text not in choices:
        raise invalid_request(f"Invalid {_leaf(param)}: must be one of {_one_of(choices)}", param)
    return text


def read_url(value: Any, param: str) -> str:
    url = read_string(value, param)
    if len(url) > URL_MAX_LENGTH:
        raise invalid_request(
            f"Invalid URL: URL must be {URL_MAX_LENGTH} characters or less.", param, "url_invalid"
        )
    parts = urlsplit(url)
    if not parts.scheme:
        raise invalid_request(
            "Invalid URL: An explicit scheme (such as https) must be provided.",
            param,
            "url_invalid",
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid_request("Not a valid URL", param, "url_invalid")
    return url


def read_email(value: Any, param: str) -> str:
    email = read_string(value, param)
    if not _EMAIL.match(email):
        raise invalid_request(f"Invalid email address: {email}", param, "email_invalid")
    return email


def read_expand(params: Mapping[str, Any]) -> list[str]:
    """The ``expand`` list of a request: dotted paths of fields to replace with objects."""
    items = read_array(params.get("expand", ""), "expand")
    return [read_string(item, child("expand", index)) for index, item in enumerate(items)]


def read_metadata(value: Any, param: str) -> dict[str, str]:
    """Stripe's metadata rules: ≤ 50 keys, keys ≤ 40 characters, values ≤ 500.

    An empty value leaves the key out (on create there is nothing to unset).
    """
    metadata: dict[str, str] = {}
    for key, raw in read_hash(value, param).items():
        if raw == "":
            continue
        text = read_string(raw, child(param, key))
        if len(key) > METADATA_MAX_KEY_LENGTH:
            raise invalid_request(
                f"Metadata keys can have up to {METADATA_MAX_KEY_LENGTH} characters, but you "
                f"passed in a key that is {len(key)} characters. Invalid key: {key}",
                param,
            )
        if len(text) > METADATA_MAX_VALUE_LENGTH:
            raise invalid_request(
                f"Metadata values can have up to {METADATA_MAX_VALUE_LENGTH} characters, but you "
                f"passed in a value that is {len(text)} characters. Invalid value: {text}",
                param,
            )
        metadata[key] = text
    if len(metadata) > METADATA_MAX_KEYS:
        raise invalid_request(
            f"Metadata can have up to {METADATA_MAX_KEYS} keys, but you've set {len(metadata)}. "
            "Email us at support+metadata@stripe.com for more information.",
            param,
        )
    return metadata


def _leaf(param: str) -> str:
    """``line_items[0][price_data][currency]`` -> ``currency``."""
    return param.rsplit("[", 1)[-1].rstrip("]")


def _one_of(choices: Collection[str]) -> str:
    names = list(choices)
    if len(names) <= 2:
        return " or ".join(names)
    return ", ".join(names[:-1]) + f", or {names[-1]}"


def _render(value: Any) -> str:
    """A value as Stripe echoes it in an error: nested hashes in Ruby's notation."""
    if isinstance(value, dict):
        inner = ", ".join(f'"{key}"=>{_render(item)}' for key, item in value.items())
        return "{" + inner + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_render(item) for item in value) + "]"
    return str(value)
