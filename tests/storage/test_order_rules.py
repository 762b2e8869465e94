"""The order rules: which text names an order id, and what each status allows."""

from __future__ import annotations

import pytest

from storage.order_rules import MONEY_KEPT, MONEY_TAKEN, OrderStatus, parse_order_id


@pytest.mark.parametrize(
    ("text", "order_id"),
    [
        ("1", 1),
        ("007", 7),
        ("9" * 18, 999_999_999_999_999_999),
        ("9" * 19, None),  # past SQLite's integers for some, so none of ours
        ("²", None),  # a digit to isdigit(), refused by int()
        ("٣", None),  # Arabic-Indic three: int() takes it, no button or metadata of ours has it
        ("-1", None),
        (" 1", None),
        ("", None),
        (7, None),  # metadata values are strings: another integration's number is not ours
        (None, None),
    ],
)
def test_an_order_id_is_up_to_18_ascii_digits(text: object, order_id: int | None) -> None:
    assert parse_order_id(text) == order_id


def test_a_refunded_order_takes_refund_events_but_no_more_refunds() -> None:
    """A late refund event must still apply to a refunded order; /refund has nothing left."""
    assert OrderStatus.REFUNDED in MONEY_TAKEN
    assert OrderStatus.REFUNDED not in MONEY_KEPT
    assert MONEY_KEPT < MONEY_TAKEN


def test_statuses_only_move_forward() -> None:
    assert OrderStatus.PENDING.can_move_to(OrderStatus.PAID)
    assert OrderStatus.PROCESSING.can_move_to(OrderStatus.FAILED)
    assert not OrderStatus.PAID.can_move_to(OrderStatus.EXPIRED)
    assert not OrderStatus.REFUNDED.can_move_to(OrderStatus.PARTIALLY_REFUNDED)
    assert not any(OrderStatus.EXPIRED.can_move_to(status) for status in OrderStatus)
