"""What buyers and admins chose: a buyer's language; an admin's sale alerts, the language
they are written in, and the chats that were given the admins' command menu."""

from __future__ import annotations

from storage.postgres.statements import Reads, Writes, now


async def buyer_language(db: Reads, telegram_user_id: int) -> str | None:
    """The language a buyer picked with /language, if they did."""
    rows = await db.rows(
        "SELECT language FROM buyer_languages WHERE telegram_user_id = $1", telegram_user_id
    )
    return str(rows[0]["language"]) if rows else None


async def set_buyer_language(db: Writes, telegram_user_id: int, language: str) -> None:
    await db.execute(
        "INSERT INTO buyer_languages (telegram_user_id, language, updated_at)"
        " VALUES ($1, $2, $3) ON CONFLICT (telegram_user_id) DO UPDATE SET"
        " language = excluded.language, updated_at = excluded.updated_at",
        telegram_user_id,
        language,
        now(),
    )


async def alerts_enabled(db: Reads, admin_id: int) -> bool:
    """Whether the admin wants a message on every sale, refund and failure."""
    rows = await db.rows("SELECT 1 FROM admin_alerts WHERE admin_id = $1 AND enabled = 1", admin_id)
    return bool(rows)


async def set_alerts(db: Writes, admin_id: int, enabled: bool) -> None:
    await db.execute(
        "INSERT INTO admin_alerts (admin_id, enabled, updated_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (admin_id) DO UPDATE SET enabled = excluded.enabled,"
        " updated_at = excluded.updated_at",
        admin_id,
        int(enabled),
        now(),
    )


async def admin_language(db: Reads, admin_id: int) -> str | None:
    rows = await db.rows("SELECT language FROM admin_alerts WHERE admin_id = $1", admin_id)
    return rows[0]["language"] if rows else None


async def set_admin_language(db: Writes, admin_id: int, language: str | None) -> None:
    """Remember the language an admin's alerts are written in; an admin who never set their
    alerts has no row, and keeps none."""
    await db.execute(
        "UPDATE admin_alerts SET language = $1 WHERE admin_id = $2", language, admin_id
    )


async def admin_menu_chats(db: Reads) -> set[int]:
    """The chats last given the admins' command menu."""
    return {row[0] for row in await db.rows("SELECT chat_id FROM admin_menus")}


async def set_admin_menu(db: Writes, chat_id: int, shown: bool) -> None:
    if shown:
        await db.execute(
            "INSERT INTO admin_menus (chat_id) VALUES ($1) ON CONFLICT DO NOTHING", chat_id
        )
    else:
        await db.execute("DELETE FROM admin_menus WHERE chat_id = $1", chat_id)
