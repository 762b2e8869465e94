"""(5) The bot on PostgreSQL, as a fleet: N replicas (bot processes in webhook mode on one
scratch database) behind the round-robin balancer of sandbox/balancer.py, or one replica alone.

`webhook-pg`: webhook throughput and latency with 1, 2 and 3 replicas. `burst-pg`: the
1,000-confirmation burst with 3 replicas sharing Telegram's limits. A replica count above 1
needs sandbox/balancer.py: where it is missing, that figure is skipped, saying so.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks import burst, database, postgres
from benchmarks.context import REPO, TELEGRAM_WEBHOOK_SECRET, RunContext, bot_settings
from benchmarks.figures import BenchmarkFailure, Figure
from benchmarks.processes import (
    LoadResult,
    Server,
    bot_environment,
    cpu_seconds,
    free_port,
    run_wrk,
    start_bot,
    start_server,
)
from benchmarks.webhook import CONNECTIONS, generate_requests
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TELEGRAM_LIMITS, TelegramEmulator

WEBHOOK = "webhook-pg"
BURST = "burst-pg"
REPLICA_COUNTS = (1, 2, 3)
BURST_REPLICAS = 3
BALANCER = REPO / "sandbox" / "balancer.py"
NO_BALANCER = "skipped: sandbox/balancer.py is not in this branch"


class Skipped(Exception):
    """This measurement cannot run here; the message says why."""


@dataclass
class Fleet:
    """`replicas` bot processes, and the balancer in front of them when there are several."""

    replicas: list[Server]
    balancer: Server | None

    @property
    def url(self) -> str:
        """Where Stripe's and Telegram's webhooks go: the balancer, or the one replica."""
        return self.balancer.url if self.balancer is not None else self.replicas[0].url

    def cpu_seconds(self) -> float:
        """CPU time of the bot processes so far (not the balancer's, not PostgreSQL's)."""
        return sum(cpu_seconds(replica.pid) for replica in self.replicas)

    async def stop(self) -> None:
        if self.balancer is not None:
            await self.balancer.stop()
        await asyncio.gather(*(replica.stop() for replica in self.replicas))


async def start_fleet(replicas: int, settings: dict[str, str], folder: Path) -> Fleet:
    """Start `replicas` bots in webhook mode with `settings` (DATABASE_URL among them), each in
    a folder of its own on a port of its own, and the balancer when `replicas` > 1; return
    once /readyz answers 200 through the front."""
    if replicas > 1 and not BALANCER.exists():
        raise Skipped(NO_BALANCER)
    ports = [free_port() for _ in range(replicas)]
    front = free_port() if replicas > 1 else ports[0]
    public = f"http://127.0.0.1:{front}"
    bots: list[Server] = []
    for number, port in enumerate(ports, start=1):
        workdir = folder / f"replica-{number}"
        workdir.mkdir(parents=True, exist_ok=True)
        environment = settings | {
            "TELEGRAM_MODE": "webhook",
            "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_WEBHOOK_SECRET,
            "PUBLIC_BASE_URL": public,
        }
        bot = await start_bot(environment, workdir, port)
        bot.name = f"replica {number}"
        bots.append(bot)
    fleet = Fleet(bots, None)
    try:
        await asyncio.gather(*(bot.wait_until_answering("/readyz") for bot in bots))
        if replicas > 1:
            fleet.balancer = await start_server(
                "balancer",
                [sys.executable, "-m", "sandbox.balancer", str(front), *(b.url for b in bots)],
                bot_environment(),
                folder,
                public,
            )
            await fleet.balancer.wait_until_answering("/readyz")
    except BaseException:
        await fleet.stop()
        raise
    return fleet


@asynccontextmanager
async def fleet_on_postgres(
    replicas: int, orders: int, folder: Path
) -> AsyncIterator[tuple[str, TelegramEmulator, Fleet]]:
    """A scratch database with `orders` pending orders, both emulators (Telegram's limits on,
    the orders' buyers known) and the fleet on them. The database is dropped when the block
    ends: check the outcome inside it, after `fleet.stop()` (stopping twice is harmless)."""
    async with postgres.scratch_database() as url:
        await postgres.create_with_pending_orders(url, orders)
        async with (
            TelegramEmulator(rate_limits=TELEGRAM_LIMITS) as telegram,
            StripeEmulator() as stripe_api,
        ):
            for order_id in range(1, orders + 1):
                telegram.user(database.chat_of(order_id), "Bench")
            settings = bot_settings(telegram, stripe_api, folder / "unused.db")
            fleet = await start_fleet(replicas, settings | {"DATABASE_URL": url}, folder)
            try:
                yield url, telegram, fleet
            finally:
                await fleet.stop()


async def run_webhook(context: RunContext) -> list[Figure]:
    """Webhook throughput and latency on PostgreSQL, for each replica count."""
    if context.peers is None:
        raise BenchmarkFailure("needs ../shared/peers (loadgen/gen.py); pass --peers DIR")
    events = 1_000 if context.quick else 5_000
    figures: list[Figure] = []
    for replicas in REPLICA_COUNTS:
        label = f"{replicas} replica{'s' if replicas > 1 else ''}"
        try:
            load, cpu = await _webhook_load(context, replicas, events)
        except (Skipped, postgres.NoServer) as exc:
            figures.append(Figure(WEBHOOK, f"{label}: all figures", None, "", note=str(exc)))
            continue
        figures += [
            Figure(WEBHOOK, f"{label}: events/s", load.per_second, "/s"),
            Figure(WEBHOOK, f"{label}: p50", load.p50_ms, "ms"),
            Figure(WEBHOOK, f"{label}: p99", load.p99_ms, "ms"),
            Figure(WEBHOOK, f"{label}: bots' CPU per 1,000 events", cpu / events * 1000, "s"),
        ]
    return figures


async def _webhook_load(
    context: RunContext, replicas: int, events: int
) -> tuple[LoadResult, float]:
    """`events` signed checkout.session.completed events through the fleet's front, once each
    at concurrency 64; the load's figures and the bots' CPU seconds. Checks the outcome."""
    if replicas > 1 and not BALANCER.exists():
        raise Skipped(NO_BALANCER)
    assert context.peers is not None
    folder = context.folder(f"{WEBHOOK}-{replicas}")
    requests = folder / "requests.tsv"
    async with fleet_on_postgres(replicas, events, folder) as (url, _, fleet):
        # Signed now: Stripe's signatures are good for five minutes.
        generate_requests(context.peers, events, requests)
        before = fleet.cpu_seconds()
        load = await run_wrk(fleet.url, requests, events, CONNECTIONS)
        cpu = fleet.cpu_seconds() - before
        await fleet.stop()
        if load.non_2xx or load.socket_errors:
            raise BenchmarkFailure(
                f"{replicas} replicas: {load.non_2xx} non-2xx answers and {load.socket_errors}"
                f" socket errors in {load.requests} requests"
            )
        wanted = {database.PAID_ORDERS: events, database.OUTBOX_ROWS: events}
        await postgres.expect_counts(url, wanted | {database.EVENTS: events})
    return load, cpu


async def run_burst(context: RunContext) -> list[Figure]:
    """The confirmation burst with BURST_REPLICAS replicas on PostgreSQL."""
    return await burst_with(context, BURST_REPLICAS)


async def burst_with(context: RunContext, replicas: int) -> list[Figure]:
    """N orders paid at once through `replicas` replicas, whose confirmations share
    Telegram's limits: time to the last one, and the 429s."""
    if context.peers is None:
        raise BenchmarkFailure("needs ../shared/peers (loadgen/gen.py); pass --peers DIR")
    if replicas > 1 and not BALANCER.exists():
        return [Figure(BURST, f"{replicas} replicas: all figures", None, "", note=NO_BALANCER)]
    orders = 300 if context.quick else 1_000
    folder = context.folder(f"{BURST}-{replicas}")
    requests = folder / "requests.tsv"
    try:
        async with fleet_on_postgres(replicas, orders, folder) as (url, telegram, fleet):
            generate_requests(context.peers, orders, requests)
            result = await burst.confirm_all(telegram, fleet.url, requests, orders)
            await fleet.stop()
            await postgres.expect_counts(
                url, {database.PAID_ORDERS: orders, database.SENT_MESSAGES: orders}
            )
    except postgres.NoServer as exc:
        return [Figure(BURST, f"{replicas} replicas: all figures", None, "", note=str(exc))]
    return burst.figures(BURST, orders, result, label=f"{replicas} replicas: ")
