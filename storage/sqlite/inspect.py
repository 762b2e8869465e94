"""A look at the database file without changing it (the doctor's): can the bot open it, write to
it, and has every migration shipped been applied?"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from storage.sqlite.migrate import available_migrations


def database_problems(path: Path) -> list[str]:
    """What stops the bot from using the file; empty when nothing does. Opens it read-only,
    so a database not migrated yet stays as it is."""
    folder = path.parent if path.parent.exists() else _existing_parent(path)
    if not path.exists():
        if os.access(folder, os.W_OK):
            return []  # the bot creates it at its first start
        return [f"{path} does not exist and {folder} is not writable"]
    problems = []
    if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        problems.append(f"{path} or its folder is not writable (SQLite writes its journal beside)")
    try:
        with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as db:
            applied = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
    except sqlite3.Error as exc:
        return [*problems, f"{path} cannot be read as the shop's database: {exc}"]
    pending = [m.version for m in available_migrations() if m.version not in applied]
    if pending:
        problems.append(f"migrations {pending} are not applied yet (the bot applies them at start)")
    return problems


def _existing_parent(path: Path) -> Path:
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    return folder
