"""A buyer's taps in a sliding window: whether one more may go ahead. PostgreSQL keeps the
taps in the database (so that the pace is the buyer's, whichever replica answers); SQLite's one
process keeps them in memory (`TapBook`), for a write there would add a COMMIT to every tap.
Both decide with this one rule."""

from __future__ import annotations

import json


def admit(stored: str | None, now: float, window: float, limit: int) -> tuple[str | None, float]:
    """(the taps to store, 0) when one more tap may go ahead at `now`, else (None, the seconds
    until the oldest tap in the window leaves it). `stored` is what was stored before."""
    taps = [tap for tap in json.loads(stored or "[]") if tap > now - window]
    if len(taps) >= limit:
        return None, max(taps[0] + window - now, 0.0)
    return json.dumps([*taps, now]), 0.0


# Buyers remembered before those with no tap left in the window are forgotten (in memory).
_REMEMBERED = 10_000


class TapBook:
    """Each buyer's recent taps, in one process's memory."""

    def __init__(self) -> None:
        self._taps: dict[int, str] = {}

    def pace(self, telegram_user_id: int, now: float, window: float, limit: int) -> float:
        """0 when the buyer's tap may go ahead (and it is counted), else the seconds to wait."""
        taps, wait = admit(self._taps.get(telegram_user_id), now, window, limit)
        if taps is not None:
            self._taps[telegram_user_id] = taps
            if len(self._taps) > _REMEMBERED:
                self._forget_before(now - window)
        return wait

    def __len__(self) -> int:
        """The buyers remembered."""
        return len(self._taps)

    def _forget_before(self, since: float) -> None:
        self._taps = {
            user: taps for user, taps in self._taps.items() if max(json.loads(taps)) > since
        }
