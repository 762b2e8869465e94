"""The rooms of docs/ARCHITECTURE.md, and what each may import, read from the code itself."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "webhooks", "storage", "sandbox")
WIRING = {"bot.service", "bot.main", "bot.__main__"}
SHARED = "bot (shared)"

# Room → the rooms it may import from. Kept in step with docs/ARCHITECTURE.md's table.
ALLOWED: dict[str, set[str]] = {
    "storage": {"storage"},
    "webhooks": {"webhooks", "storage"},
    SHARED: {SHARED, "storage"},
    "bot.catalog": {SHARED, "storage", "bot.catalog"},
    "bot.buyer": {SHARED, "storage", "bot.catalog", "bot.buyer"},
    "bot.admin": {SHARED, "storage", "bot.catalog", "bot.admin", "webhooks"},
    # The outbox delivers digital goods as the catalog describes them.
    "bot.outbox": {SHARED, "storage", "bot.catalog", "bot.outbox"},
    "bot.ops": {SHARED, "storage", "bot.catalog", "bot.ops", "webhooks"},
    "sandbox": {"sandbox"},
    # The demo runs the emulators and the wiring (bot.service, allowed to every room's
    # importer below) and formats money and order references on its page.
    "bot.demo": {SHARED, "storage", "bot.catalog", "bot.demo", "sandbox"},
}
# Single modules a room may use beyond its rooms: the outbox renders the buyers' and the
# admins' messages, and a buyer returning from Stripe reads the same notice the outbox sends.
ALSO_ALLOWED: dict[str, set[str]] = {
    "bot.outbox": {"bot.buyer.texts", "bot.buyer.keyboards", "bot.admin.texts"},
    "bot.buyer": {"bot.outbox.notices"},
    # /health is an admin command: the one admin check guards it.
    "bot.ops": {"bot.admin.access"},
}


def room_of(module: str) -> str | None:
    """The room a dotted module name lives in; None for the wiring and for third parties."""
    if module in WIRING:
        return None
    top, _, rest = module.partition(".")
    if top not in PACKAGES:
        return None
    if top != "bot":
        return top
    sub = rest.partition(".")[0]
    is_room = sub and sub != "locales" and (REPO / "bot" / sub).is_dir()
    return f"bot.{sub}" if is_room else SHARED


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> Iterator[str]:
    """Every project module a file imports, `from bot.buyer import texts` as bot.buyer.texts."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                is_module = (REPO / submodule.replace(".", "/")).with_suffix(".py").exists()
                yield submodule if is_module else node.module


def sources() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (REPO / package).rglob("*.py"))


def test_every_module_belongs_to_a_room_the_table_names() -> None:
    rooms = {room_of(module_name(path)) for path in sources()} - {None}
    assert rooms == set(ALLOWED)


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(REPO)))
def test_each_module_imports_only_what_its_room_may(path: Path) -> None:
    name = module_name(path)
    room = room_of(name)
    if room is None:
        return  # the wiring puts everything together
    wrong = [
        imported
        for imported in imports_of(path)
        if (target := room_of(imported)) is not None
        and target not in ALLOWED[room]
        and imported not in ALSO_ALLOWED.get(room, set())
    ]
    assert not wrong, f"{name} ({room}) may not import {wrong}"


def test_a_reach_across_rooms_is_caught(tmp_path: Path) -> None:
    """The check itself: a storage module importing the bot is named."""
    forbidden = tmp_path / "bad.py"
    forbidden.write_text("from bot.buyer import texts\nimport webhooks.fulfilment\n")
    found = {room_of(imported) for imported in imports_of(forbidden)}
    assert found - ALLOWED["storage"] == {"bot.buyer", "webhooks"}
