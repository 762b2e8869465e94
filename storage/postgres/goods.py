"""Digital goods: what products deliver, key pools, invite links, uploaded files and payments in
Telegram Stars (the rules are SQLite's: storage/sqlite/goods.py).

Race-safety: a code is taken with `FOR UPDATE SKIP LOCKED`, so replicas taking codes of one
pool at once each lock different free rows and none takes a code another took; a code is taken
once, for good.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from storage.models import InviteLink, StarPayment
from storage.order_rules import HOLDS_STOCK
from storage.postgres.statements import Reads, Writes, now

_HOLDING = ", ".join(sorted(f"'{status.value}'" for status in HOLDS_STOCK))


async def record_kinds(db: Writes, kinds: Mapping[str, str]) -> None:
    """The catalog's digital products and what each delivers; the others deliver nothing.
    Replicas starting together write the same rows: an upsert, never a duplicate key."""
    await db.execute(
        "DELETE FROM digital_products WHERE product_id <> ALL($1::text[])", list(kinds)
    )
    await db.executemany(
        "INSERT INTO digital_products (product_id, kind) VALUES ($1, $2)"
        " ON CONFLICT (product_id) DO UPDATE SET kind = excluded.kind",
        list(kinds.items()),
    )


async def kind_of(db: Reads, product_id: str) -> str | None:
    rows = await db.rows("SELECT kind FROM digital_products WHERE product_id = $1", product_id)
    return rows[0][0] if rows else None


async def add_keys(db: Writes, pools: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Add the codes each pool's file holds (those seen before stay as they are) and record
    each product's stock from its codes not taken; returns the stock numbers recorded."""
    at = now()
    for product_id, codes in pools.items():
        await db.executemany(
            "INSERT INTO key_codes (product_id, code, added_at) VALUES ($1, $2, $3)"
            " ON CONFLICT (product_id, code) DO NOTHING",
            [(product_id, code, at) for code in codes],
        )
    free = await free_counts(db, list(pools))
    # The codes of orders paid from the second the number is written on count with it, as
    # the stock rule counts those orders against it (storage/sqlite/goods.py).
    counted = await db.rows(
        "SELECT k.product_id, count(*) AS taken FROM key_codes k JOIN orders o"
        f" ON o.id = k.order_id WHERE o.paid_at >= $1 AND o.status IN ({_HOLDING})"
        " AND k.product_id = ANY($2::text[]) GROUP BY k.product_id",
        at,
        list(pools),
    )
    levels = dict(free)
    for row in counted:
        levels[row["product_id"]] += row["taken"]
    last_order_id = (await db.rows("SELECT coalesce(max(id), 0) FROM orders"))[0][0]
    await db.executemany(
        "INSERT INTO stock_levels (product_id, stock, after_order_id, recorded_at)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (product_id) DO UPDATE SET stock = excluded.stock,"
        " after_order_id = excluded.after_order_id, recorded_at = excluded.recorded_at",
        [(product_id, stock, last_order_id, at) for product_id, stock in levels.items()],
    )
    return levels


async def free_counts(db: Reads, product_ids: list[str]) -> dict[str, int]:
    rows = await db.rows(
        "SELECT p.id AS product_id, (SELECT count(*) FROM key_codes k"
        " WHERE k.product_id = p.id AND k.order_id IS NULL) AS free"
        " FROM unnest($1::text[]) AS p (id)",
        product_ids,
    )
    return {row["product_id"]: row["free"] for row in rows}


async def take_keys(db: Writes, order_id: int, product_id: str, count: int) -> list[str]:
    """The order's codes of the product: those it took before, else up to `count` free ones,
    taken now."""
    taken = await keys_of(db, order_id, product_id)
    if taken:
        return taken
    rows = await db.rows(
        "UPDATE key_codes SET order_id = $1, taken_at = $2 WHERE id IN (SELECT id FROM key_codes"
        " WHERE product_id = $3 AND order_id IS NULL ORDER BY id LIMIT $4"
        " FOR UPDATE SKIP LOCKED) RETURNING id, code",
        order_id,
        now(),
        product_id,
        count,
    )
    return [row["code"] for row in sorted(rows, key=lambda row: row["id"])]


async def keys_of(db: Reads, order_id: int, product_id: str | None = None) -> list[str]:
    """The codes the order took (of one product, when named)."""
    rows = await db.rows(
        "SELECT code FROM key_codes WHERE order_id = $1"
        " AND coalesce($2::text, product_id) = product_id ORDER BY id",
        order_id,
        product_id,
    )
    return [row["code"] for row in rows]


async def save_invite(db: Writes, order_id: int, chat_id: int, link: str) -> str:
    """Keep the order's invite link to a group; the first one made stays (returned)."""
    await db.execute(
        "INSERT INTO invite_links (order_id, chat_id, invite_link, created_at)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (order_id, chat_id) DO NOTHING",
        order_id,
        chat_id,
        link,
        now(),
    )
    (kept,) = [found for found in await invites_of(db, order_id) if found.chat_id == chat_id]
    return kept.invite_link


async def invites_of(db: Reads, order_id: int) -> list[InviteLink]:
    rows = await db.rows(
        "SELECT order_id, chat_id, invite_link, revoked_at FROM invite_links WHERE order_id = $1"
        " ORDER BY created_at, chat_id",
        order_id,
    )
    return [InviteLink(**dict(row)) for row in rows]


async def mark_revoked(db: Writes, order_id: int, chat_id: int) -> None:
    await db.execute(
        "UPDATE invite_links SET revoked_at = $1 WHERE order_id = $2 AND chat_id = $3"
        " AND revoked_at IS NULL",
        now(),
        order_id,
        chat_id,
    )


async def file_id_for(db: Reads, path: str) -> str | None:
    rows = await db.rows("SELECT file_id FROM sent_files WHERE path = $1", path)
    return rows[0][0] if rows else None


async def remember_file_id(db: Writes, path: str, file_id: str) -> None:
    await db.execute(
        "INSERT INTO sent_files (path, file_id) VALUES ($1, $2)"
        " ON CONFLICT (path) DO UPDATE SET file_id = excluded.file_id",
        path,
        file_id,
    )


_STAR_COLUMNS = "charge_id, order_id, telegram_user_id, amount, paid_at, refunded_at"


async def record_star_payment(
    db: Writes, charge_id: str, order_id: int, telegram_user_id: int, amount: int
) -> bool:
    """Record a Star payment; False when its charge (or its order's payment) was recorded."""
    changed = await db.execute(
        f"INSERT INTO star_payments ({_STAR_COLUMNS}) VALUES ($1, $2, $3, $4, $5, NULL)"
        " ON CONFLICT DO NOTHING",
        charge_id,
        order_id,
        telegram_user_id,
        amount,
        now(),
    )
    return changed == 1


async def star_payment_of(db: Reads, order_id: int) -> StarPayment | None:
    rows = await db.rows(f"SELECT {_STAR_COLUMNS} FROM star_payments WHERE order_id = $1", order_id)
    return StarPayment(**dict(rows[0])) if rows else None


async def star_payments_of(db: Reads, telegram_user_id: int, limit: int) -> list[StarPayment]:
    rows = await db.rows(
        f"SELECT {_STAR_COLUMNS} FROM star_payments WHERE telegram_user_id = $1"
        " ORDER BY paid_at DESC, order_id DESC LIMIT $2",
        telegram_user_id,
        limit,
    )
    return [StarPayment(**dict(row)) for row in rows]


async def mark_star_refunded(db: Writes, charge_id: str) -> bool:
    """Record a Star payment's refund; False when it was recorded before."""
    changed = await db.execute(
        "UPDATE star_payments SET refunded_at = $1 WHERE charge_id = $2 AND refunded_at IS NULL",
        now(),
        charge_id,
    )
    return changed == 1
