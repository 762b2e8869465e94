"""What the replicas on one database decide in it: the catalog's version, each buyer's recent
taps, and the one Buy tap at a time per buyer and product (a lease)."""

from __future__ import annotations

from storage.pacing import admit
from storage.postgres.statements import Reads, Writes


async def catalog_version(db: Reads) -> int:
    rows = await db.rows("SELECT version FROM catalog_version WHERE id = 1")
    return int(rows[0][0])


async def bump_catalog_version(db: Writes) -> int:
    rows = await db.rows(
        "UPDATE catalog_version SET version = version + 1 WHERE id = 1 RETURNING version"
    )
    return int(rows[0][0])


async def pace_tap(
    db: Writes, telegram_user_id: int, now: float, window: float, limit: int
) -> float:
    """0 when the buyer's tap may go ahead (and it is counted), else the seconds to wait.

    The buyer's row is locked first (made if missing), so that two replicas answering the same
    buyer at once count one tap after the other."""
    await db.execute(
        "INSERT INTO buyer_taps (telegram_user_id, taps) VALUES ($1, '[]')"
        " ON CONFLICT (telegram_user_id) DO NOTHING",
        telegram_user_id,
    )
    rows = await db.rows(
        "SELECT taps FROM buyer_taps WHERE telegram_user_id = $1 FOR UPDATE", telegram_user_id
    )
    taps, wait = admit(rows[0][0], now, window, limit)
    if taps is not None:
        await db.execute(
            "UPDATE buyer_taps SET taps = $2 WHERE telegram_user_id = $1", telegram_user_id, taps
        )
    return wait


async def take_buy_turn(
    db: Writes, telegram_user_id: int, product_id: str, holder: str, now: float, until: float
) -> bool:
    """The buyer's turn at this product for `holder` until `until`, unless another holds it."""
    changed = await db.execute(
        "INSERT INTO buy_turns (telegram_user_id, product_id, holder, until)"
        " VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (telegram_user_id, product_id) DO UPDATE SET"
        " holder = excluded.holder, until = excluded.until WHERE buy_turns.until <= $5",
        telegram_user_id,
        product_id,
        holder,
        until,
        now,
    )
    return changed == 1


async def buy_turn_holder(
    db: Reads, telegram_user_id: int, product_id: str, now: float
) -> str | None:
    """Who holds the buyer's turn at this product at `now`, if anyone."""
    rows = await db.rows(
        "SELECT holder FROM buy_turns"
        " WHERE telegram_user_id = $1 AND product_id = $2 AND until > $3",
        telegram_user_id,
        product_id,
        now,
    )
    return str(rows[0][0]) if rows else None


async def end_buy_turn(db: Writes, telegram_user_id: int, product_id: str, holder: str) -> None:
    await db.execute(
        "DELETE FROM buy_turns WHERE telegram_user_id = $1 AND product_id = $2 AND holder = $3",
        telegram_user_id,
        product_id,
        holder,
    )
