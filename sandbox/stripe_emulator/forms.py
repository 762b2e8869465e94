"""Stripe's bracketed form encoding, decoded into nested dicts and lists.

stripe-python sends v1 parameters as ``application/x-www-form-urlencoded`` with
the brackets left unescaped::

    line_items[0][price_data][unit_amount]=39700&metadata[order_id]=7&expand[0]=payment_intent

which decodes to::

    {"line_items": [{"price_data": {"unit_amount": "39700"}}],
     "metadata": {"order_id": "7"}, "expand": ["payment_intent"]}

Every leaf stays a string: like the real API, the type of a value is decided by
the parameter it is given to (see ``params.py``), never by how it looks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["FormError", "decode_form", "parse_form"]

# `name` followed by any number of `[segment]`; an empty segment (`[]`) appends.
_KEY = re.compile(r"^(?P<name>[^\[\]]+)(?P<segments>(?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


class FormError(ValueError):
    """A parameter name that cannot be placed in the nested structure."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


def parse_form(body: str) -> list[tuple[str, str]]:
    """Split a urlencoded body into (key, value) pairs, keeping empty values.

    An empty value is meaningful to Stripe (``metadata[key]=`` unsets a key),
    so it must not be dropped the way ``parse_qsl`` does by default.
    """
    return parse_qsl(body, keep_blank_values=True, strict_parsing=False)


def decode_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Decode ``(key, value)`` pairs into nested dicts and lists.

    - ``a[b][c]=v`` nests dicts;
    - ``a[0]=x&a[1]=y`` (stripe-python's form) and ``a[]=x&a[]=y`` give lists;
    - a repeated scalar key keeps the last value, as Rack does.

    A dict whose keys are exactly ``"0"`` … ``"n-1"`` becomes a list. Keys
    that a name cannot hold at once (``a=1&a[b]=2``) raise :class:`FormError`.
    """
    root: dict[str, Any] = {}
    for key, value in pairs:
        path = _split_key(key)
        _assign(root, path, value, key)
    result = _listify(root)
    assert isinstance(result, dict)
    return result


def _split_key(key: str) -> list[str]:
    match = _KEY.match(key)
    if match is None:
        # Not bracket-shaped (`a]b`, `a[b`): keep it whole, so that the unknown
        # parameter check names it exactly as it was sent.
        return [key]
    return [match["name"], *_SEGMENT.findall(match["segments"])]


def _assign(root: dict[str, Any], path: list[str], value: str, key: str) -> None:
    node: dict[str, Any] = root
    for depth, segment in enumerate(path[:-1]):
        if segment == "":
            raise FormError(
                f"Invalid array: '{key}' uses '[]' before its last segment.",
                _param_name(path[:depth]),
            )
        child = node.setdefault(segment, {})
        if not isinstance(child, dict):
            raise FormError(
                f"Invalid hash: '{_param_name(path[: depth + 1])}' was sent both "
                "as a value and as a hash.",
                _param_name(path[: depth + 1]),
            )
        node = child

    last = path[-1]
    if last == "":
        # `a[]=x`: append, with the index as the key so `_listify` orders it.
        node[str(len(node))] = value
        return
    if isinstance(node.get(last), dict):
        raise FormError(
            f"Invalid hash: '{_param_name(path)}' was sent both as a hash and as a value.",
            _param_name(path),
        )
    node[last] = value


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _listify(child) for key, child in node.items()}
    if converted and set(converted) == {str(index) for index in range(len(converted))}:
        return [converted[str(index)] for index in range(len(converted))]
    return converted


def _param_name(path: list[str]) -> str:
    """``["line_items", "0", "quantity"]`` -> ``"line_items[0][quantity]"``."""
    return path[0] + "".join(f"[{segment}]" for segment in path[1:])
