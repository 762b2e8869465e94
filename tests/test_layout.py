"""The tests' own layout: shared steps live in helper modules (tests/helpers.py, a room's
steps.py, tests/processes.py, tests/stripe_sandbox.py) and fixtures in conftest.py, so that no
test module imports another, nor conftest.py (pytest loads it; imported, it is a second copy)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


def test_no_test_module_imports_another_or_conftest() -> None:
    modules = sorted(TESTS.rglob("*.py"))
    assert len([m for m in modules if m.name.startswith("test_")]) > 40
    wrong = {
        str(path.relative_to(TESTS)): sorted(
            name
            for name in imported_modules(path)
            if name.startswith("tests")
            and any(part.startswith("test_") or part == "conftest" for part in name.split("."))
        )
        for path in modules
    }
    assert {path: names for path, names in wrong.items() if names} == {}
