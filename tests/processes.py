"""`python -m bot` as a child process, as the tests about the process start it: its environment
(the machine's PATH and nothing else of it), its start and its end."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.helpers import REPO


def environment(tmp_path: Path, **values: str) -> dict[str, str]:
    """The process's environment: the machine's PATH and nothing else of it."""
    return {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO), **values}


async def run_bot(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    """`python -m bot` started in `cwd`, its output piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def finish(process: asyncio.subprocess.Process) -> tuple[int, str]:
    """Wait (at most 30 s) for the process to end: its exit code and its stderr."""
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode is not None
    return process.returncode, stderr.decode()


def valid(tmp_path: Path, **values: str) -> dict[str, str]:
    """A configuration the bot accepts (its database in `tmp_path`), with `values` over it."""
    defaults = {
        "TELEGRAM_BOT_TOKEN": "123456789:TEST-fake-token",
        "STRIPE_SECRET_KEY": "sk_test_fake_key_for_tests",
        "STRIPE_WEBHOOK_SECRET": "whsec_fake_secret_for_tests",
        "CATALOG_FILE": str(REPO / "catalog.toml"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}",
    }
    return environment(tmp_path, **{**defaults, **values})
