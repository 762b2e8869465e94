"""The buyers' pace kept in one process's memory (SQLite's): the rule of storage/pacing.py,
and a memory that forgets buyers whose taps have all left the window, not those still in it."""

from __future__ import annotations

import pytest

from storage.pacing import _REMEMBERED, TapBook


def test_a_buyer_waits_until_the_oldest_tap_leaves_the_window() -> None:
    book = TapBook()
    assert [book.pace(4242, 1000.0 + n, 60.0, 3) for n in range(3)] == [0, 0, 0]
    assert book.pace(4242, 1010.0, 60.0, 3) == pytest.approx(50.0)
    assert book.pace(4343, 1010.0, 60.0, 3) == 0
    assert book.pace(4242, 1060.5, 60.0, 3) == 0


def test_many_buyers_are_forgotten_once_their_taps_left_the_window() -> None:
    book = TapBook()
    for user in range(_REMEMBERED):
        book.pace(user, 1000.0, 60.0, 1)
    book.pace(-1, 1050.0, 60.0, 1)  # a buyer still in the window when the book is trimmed
    book.pace(-2, 1070.0, 60.0, 1)  # one over: the book forgets those whose taps have gone
    assert len(book) == 2
    assert book.pace(-1, 1070.0, 60.0, 1) == pytest.approx(40.0)  # remembered
    assert book.pace(-2, 1071.0, 60.0, 1) == pytest.approx(59.0)
