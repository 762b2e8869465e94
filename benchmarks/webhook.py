"""(1) Stripe webhook throughput and latency at concurrency 64, side by side with the peer."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from benchmarks import database
from benchmarks.context import STRIPE_WEBHOOK_SECRET, RunContext, bot_settings
from benchmarks.figures import BenchmarkFailure, Figure, at_least, at_most
from benchmarks.processes import (
    LoadResult,
    Server,
    cpu_seconds,
    free_port,
    memory_bytes,
    run_wrk,
    start_bot,
    start_server,
)
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TELEGRAM_LIMITS, TelegramEmulator

NAME = "webhook"
CONNECTIONS = 64
DUPLICATE_SHARE = 0.10
PEER_CACHE = Path.home() / ".cache" / "checkout-bot-benchmarks"
MB = 1024 * 1024
# The targets, as ratios against the peer measured in the same run: absolute figures move 2×
# between machines (and between runs on a shared one), ratios far less.
THROUGHPUT_RATIO = 1.6
P99_RATIO = 0.4
CPU_RATIO = 0.6


@dataclass(frozen=True)
class Measured:
    load: LoadResult
    events: int  # distinct events in the load
    cpu_seconds: float
    peak_rss: int
    rss_after: int
    start_seconds: float

    @property
    def cpu_per_1000(self) -> float:
        return self.cpu_seconds / self.load.requests * 1000


async def run(context: RunContext) -> list[Figure]:
    if context.peers is None:
        raise BenchmarkFailure("needs ../shared/peers (loadgen/gen.py); pass --peers DIR")
    events = 3_000 if context.quick else 20_000
    folder = context.folder(NAME)
    distinct = folder / "distinct.tsv"
    generate_requests(context.peers, events, distinct)
    with_duplicates = folder / "duplicates.tsv"
    mix_in_duplicates(distinct, with_duplicates, DUPLICATE_SHARE)

    first = await measure_bot(folder / "distinct", distinct, events)
    again = await measure_bot(folder / "duplicates", with_duplicates, events)
    peer = await measure_peer(context.peers, folder / "peer", distinct, events)

    figures = [
        *_load_figures("bot", first),
        *_load_figures("bot, 10% duplicates", again),
        Figure(NAME, "bot peak RSS", first.peak_rss / MB, "MB"),
        Figure("footprint", "RSS after (1)", first.rss_after / MB, "MB", at_most(120)),
    ]
    if peer is None:
        note = "skipped: node/npm not found"
        figures.append(
            Figure(NAME, "throughput bot / peer", None, "×", at_least(THROUGHPUT_RATIO), note)
        )
        return figures
    figures += [
        *_load_figures("peer MODE=equal", peer, targets=False),
        Figure(NAME, "peer peak RSS", peer.peak_rss / MB, "MB"),
        Figure(
            NAME,
            "throughput bot / peer",
            first.load.per_second / peer.load.per_second,
            "×",
            at_least(THROUGHPUT_RATIO),
        ),
        Figure(
            NAME, "p99 bot / peer", first.load.p99_ms / peer.load.p99_ms, "×", at_most(P99_RATIO)
        ),
        Figure(
            NAME,
            "CPU per event bot / peer",
            first.cpu_per_1000 / peer.cpu_per_1000,
            "×",
            at_most(CPU_RATIO),
        ),
    ]
    return figures


def _load_figures(label: str, measured: Measured, *, targets: bool = True) -> list[Figure]:
    load = measured.load
    return [
        Figure(NAME, f"{label}: events/s", load.per_second, "/s"),
        Figure(NAME, f"{label}: p50", load.p50_ms, "ms"),
        Figure(NAME, f"{label}: p95", load.p95_ms, "ms"),
        Figure(NAME, f"{label}: p99", load.p99_ms, "ms", at_most(25) if targets else None),
        Figure(NAME, f"{label}: CPU per 1,000 events", measured.cpu_per_1000, "s"),
    ]


def generate_requests(peers: Path, count: int, out: Path) -> None:
    """N distinct signed checkout.session.completed requests, by the peer's own generator."""
    subprocess.run(
        [sys.executable, str(peers / "loadgen" / "gen.py"), str(count), STRIPE_WEBHOOK_SECRET,
         str(out), database.SESSION_PREFIX],
        check=True, capture_output=True,
    )  # fmt: skip


def mix_in_duplicates(source: Path, out: Path, share: float) -> None:
    """The same requests with `share` of them sent a second time, later, as Stripe retries do."""
    lines = source.read_text().splitlines(keepends=True)
    chooser = random.Random(6)
    mixed = list(lines)
    for _ in range(int(len(lines) * share)):
        index = chooser.randrange(len(lines))
        mixed.insert(chooser.randrange(index + 1, len(mixed) + 1), lines[index])
    out.write_text("".join(mixed))


async def measure_bot(folder: Path, requests: Path, events: int) -> Measured:
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "shop.db"
    await database.create_with_pending_orders(db, events)
    total = len(requests.read_text().splitlines())
    async with (
        TelegramEmulator(rate_limits=TELEGRAM_LIMITS) as telegram,
        StripeEmulator() as stripe_api,
    ):
        for order_id in range(1, events + 1):
            telegram.user(database.chat_of(order_id), "Bench")
        bot = await start_bot(bot_settings(telegram, stripe_api, db), folder, free_port())
        try:
            measured = await _drive(bot, requests, total, events, "/healthz")
        finally:
            await bot.stop()
    database.expect_counts(
        db,
        {database.PAID_ORDERS: events, database.OUTBOX_ROWS: events, database.EVENTS: events},
    )
    return measured


async def _drive(server: Server, requests: Path, total: int, events: int, ready: str) -> Measured:
    start_seconds = await server.wait_until_answering(ready)
    # The runs before (their orders, the preloaded database) may still be on their way to the
    # disk: each server's COMMITs are measured without waiting behind another's writes.
    os.sync()
    cpu_before = cpu_seconds(server.pid)
    load = await run_wrk(server.url, requests, total, CONNECTIONS)
    cpu = cpu_seconds(server.pid) - cpu_before
    if load.non_2xx or load.socket_errors:
        raise BenchmarkFailure(
            f"{server.name}: {load.non_2xx} non-2xx answers and {load.socket_errors} socket "
            f"errors in {load.requests} requests:\n{server.log_tail()}"
        )
    if load.requests < total:
        raise BenchmarkFailure(f"{server.name}: {load.requests} answers for {total} requests")
    return Measured(
        load,
        events,
        cpu,
        memory_bytes(server.pid, "VmHWM"),
        memory_bytes(server.pid, "VmRSS"),
        start_seconds,
    )


async def measure_peer(peers: Path, folder: Path, requests: Path, events: int) -> Measured | None:
    """The Express handler in MODE=equal on the same requests; None without Node.js."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return None
    app = await _installed_peer(peers / "express-seed", npm)
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "MODE": "equal",
        "WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET,
        "PORT": str(port),
        "DB": str(folder / "peer.db"),
    }
    peer = await start_server("peer", [node, "server.js"], env, app, f"http://127.0.0.1:{port}")
    try:
        await peer.wait_until_answering("/_count")
        sessions = [f"{database.SESSION_PREFIX}{i}" for i in range(events)]
        async with aiohttp.ClientSession() as session:
            async with session.post(peer.url + "/_seed", json={"sessions": sessions}) as answer:
                answer.raise_for_status()
            total = len(requests.read_text().splitlines())
            measured = await _drive(peer, requests, total, events, "/_count")
            async with session.get(peer.url + "/_count") as answer:
                counts = await answer.json()
    finally:
        await peer.stop()
    if counts["paid"] != events or counts["outbox"] != events:
        raise BenchmarkFailure(f"peer: {counts} after {events} distinct events")
    return measured


async def _installed_peer(source: Path, npm: str) -> Path:
    """A copy of the peer outside the repository, with its node_modules installed once."""
    app = PEER_CACHE / "express-seed"
    wanted = (source / "package-lock.json").read_bytes() + (source / "server.js").read_bytes()
    stamp = app / ".installed-from"
    if stamp.exists() and stamp.read_bytes() == wanted:
        return app
    shutil.rmtree(app, ignore_errors=True)
    shutil.copytree(source, app)
    for path in [app, *app.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)  # the shared copy is read-only
    process = await asyncio.create_subprocess_exec(
        npm, "install", "--no-audit", "--no-fund", cwd=app,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise BenchmarkFailure(f"npm install of the peer failed:\n{output.decode()[-2000:]}")
    stamp.write_bytes(wanted)
    return app
