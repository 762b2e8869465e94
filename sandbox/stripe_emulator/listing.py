"""What every Stripe list endpoint shares: ``created`` filters, cursors, ``data.`` expansions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import invalid_request, resource_missing
from .params import child, read_hash, read_int, read_string, reject_unknown

__all__ = ["LIST_PARAMS", "check_expand", "created_filter", "list_expand", "paginate"]

LIST_PARAMS = frozenset({"created", "ending_before", "expand", "limit", "starting_after"})


def created_filter(items: list[dict[str, Any]], params: dict[str, Any]) -> list[dict[str, Any]]:
    """``created=<ts>`` or ``created[gt|gte|lt|lte]=<ts>``."""
    if "created" not in params:
        return items
    value = params["created"]
    if isinstance(value, str):
        exact = read_int(value, "created")
        return [item for item in items if item["created"] == exact]
    bounds = read_hash(value, "created")
    reject_unknown(bounds, {"gt", "gte", "lt", "lte"}, "created")
    tests: dict[str, Callable[[int, int], bool]] = {
        "gt": lambda created, bound: created > bound,
        "gte": lambda created, bound: created >= bound,
        "lt": lambda created, bound: created < bound,
        "lte": lambda created, bound: created <= bound,
    }
    for name, raw in bounds.items():
        bound = read_int(raw, child("created", name))
        items = [item for item in items if tests[name](item["created"], bound)]
    return items


def paginate(
    items: list[dict[str, Any]], params: dict[str, Any], object_name: str
) -> tuple[list[dict[str, Any]], bool]:
    """Stripe's cursor pagination over items already in list order (newest first)."""
    limit = read_int(params.get("limit", "10"), "limit", minimum=1, maximum=100)
    ids = [item["id"] for item in items]
    if "starting_after" in params:
        cursor = read_string(params["starting_after"], "starting_after")
        if cursor not in ids:
            raise resource_missing(object_name, cursor, "starting_after")
        after = items[ids.index(cursor) + 1 :]
        return after[:limit], len(after) > limit
    if "ending_before" in params:
        cursor = read_string(params["ending_before"], "ending_before")
        if cursor not in ids:
            raise resource_missing(object_name, cursor, "ending_before")
        before = items[: ids.index(cursor)]
        return before[-limit:], len(before) > limit
    return items[:limit], len(items) > limit


def list_expand(paths: list[str]) -> list[str]:
    """``data.payment_intent`` -> ``payment_intent``: list expansions name each item's field."""
    expand = []
    for path in paths:
        if not path.startswith("data."):
            raise invalid_request(f"This property cannot be expanded ({path}).")
        expand.append(path.removeprefix("data."))
    return expand


def check_expand(paths: list[str], allowed: tuple[str, ...] = ()) -> None:
    """Refuse an expansion of a field that is not expandable (or not emulated)."""
    for path in paths:
        if path not in allowed:
            raise invalid_request(f"This property cannot be expanded ({path}).")
