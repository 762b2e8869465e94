"""A buyer's taps in a sliding window: whether one more may go ahead. Both backends keep the
taps in the database (so that the pace is the buyer's, whichever process answers) and decide
with this one rule."""

from __future__ import annotations

import json


def admit(stored: str | None, now: float, window: float, limit: int) -> tuple[str | None, float]:
    """(the taps to store, 0) when one more tap may go ahead at `now`, else (None, the seconds
    until the oldest tap in the window leaves it). `stored` is what was stored before."""
    taps = [tap for tap in json.loads(stored or "[]") if tap > now - window]
    if len(taps) >= limit:
        return None, max(taps[0] + window - now, 0.0)
    return json.dumps([*taps, now]), 0.0
