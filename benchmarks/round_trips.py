"""(6) What one replica asks of PostgreSQL, counted rather than timed: round trips idle, per
webhook event and per queued message sent. Other work on the machine changes timings, not
these counts, so they show a change in the bot's chatter with the database on a shared machine.

`round-trips-pg`: one bot in webhook mode whose DATABASE_URL goes through a counting proxy,
which passes the PostgreSQL protocol on unchanged and counts ReadyForQuery messages (one per
round trip: each statement, BEGIN or COMMIT asyncpg sends is answered by one). The replica is
first left idle with an empty outbox and no waiting orders, then given signed events, then
left to send the confirmations they queued.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from benchmarks import database, postgres
from benchmarks.context import RunContext, bot_settings
from benchmarks.figures import BenchmarkFailure, Figure
from benchmarks.processes import free_port, run_wrk
from benchmarks.replicas import start_fleet
from benchmarks.webhook import CONNECTIONS, generate_requests
from sandbox.stripe_api import StripeEmulator
from sandbox.telegram_api import TELEGRAM_LIMITS, TelegramEmulator

NAME = "round-trips-pg"
SERVER = ("127.0.0.1", 5432)
# The client's first message may ask for TLS: the proxy answers "no" itself, so that it reads
# the protocol in clear (the server in the benchmarks has none anyway).
SSL_REQUEST = struct.pack("!II", 8, 80877103)
READY_FOR_QUERY = ord("Z")
IDLE_SECONDS = 60.0
SENDING_SECONDS = 10.0


class CountingProxy:
    """A TCP proxy in front of PostgreSQL that counts the server's ReadyForQuery messages."""

    def __init__(self) -> None:
        self.round_trips = 0
        self.port = free_port()
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> CountingProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, client: asyncio.StreamReader, to_client: asyncio.StreamWriter) -> None:
        first = await client.readexactly(8)
        if first == SSL_REQUEST:
            to_client.write(b"N")
            first = b""
        server, to_server = await asyncio.open_connection(*SERVER)
        to_server.write(first)
        await asyncio.gather(_pipe(client, to_server), self._count(server, to_client))

    async def _count(self, server: asyncio.StreamReader, to_client: asyncio.StreamWriter) -> None:
        """Pass the server's messages on, counting ReadyForQuery: a type byte, then a length."""
        pending = b""
        try:
            while data := await server.read(65536):
                to_client.write(data)
                await to_client.drain()
                pending += data
                while len(pending) >= 5:
                    length = struct.unpack_from("!I", pending, 1)[0]
                    if len(pending) < 1 + length:
                        break
                    if pending[0] == READY_FOR_QUERY:
                        self.round_trips += 1
                    pending = pending[1 + length :]
        except ConnectionError:
            pass
        finally:
            to_client.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@asynccontextmanager
async def _replica(
    context: RunContext, orders: int, proxy: CountingProxy
) -> AsyncIterator[tuple[str, TelegramEmulator]]:
    """One replica on a scratch database with `orders` pending orders, through the proxy; the
    front's URL and the Telegram emulator."""
    folder = context.folder(f"{NAME}-{orders}")
    async with postgres.scratch_database() as url:
        await postgres.create_with_pending_orders(url, orders)
        proxied = url.replace(f"{SERVER[0]}:{SERVER[1]}", f"127.0.0.1:{proxy.port}")
        async with (
            TelegramEmulator(rate_limits=TELEGRAM_LIMITS) as telegram,
            StripeEmulator() as stripe_api,
        ):
            for order_id in range(1, orders + 1):
                telegram.user(database.chat_of(order_id), "Bench")
            settings = bot_settings(telegram, stripe_api, folder / "unused.db")
            fleet = await start_fleet(1, settings | {"DATABASE_URL": proxied}, folder)
            try:
                yield fleet.url, telegram
            finally:
                await fleet.stop()


async def run(context: RunContext) -> list[Figure]:
    """Round trips of one replica: idle, per event, per message sent."""
    if context.peers is None:
        raise BenchmarkFailure("needs ../shared/peers (loadgen/gen.py); pass --peers DIR")
    events = 1_000 if context.quick else 2_000
    try:
        async with CountingProxy() as proxy, _replica(context, 0, proxy):
            await asyncio.sleep(1.0)  # start-up's own queries are not idling
            before = proxy.round_trips
            await asyncio.sleep(IDLE_SECONDS)
            idle = (proxy.round_trips - before) / IDLE_SECONDS * 60
        async with CountingProxy() as proxy, _replica(context, events, proxy) as (front, telegram):
            requests = context.folder(NAME) / "requests.tsv"
            generate_requests(context.peers, events, requests)
            before, sent = proxy.round_trips, len(telegram.calls_to("sendMessage"))
            load = await run_wrk(front, requests, events, CONNECTIONS)
            during = proxy.round_trips - before
            sent_during = len(telegram.calls_to("sendMessage")) - sent
            before, sent = proxy.round_trips, len(telegram.calls_to("sendMessage"))
            await asyncio.sleep(SENDING_SECONDS)
            sending = proxy.round_trips - before
            sent_after = len(telegram.calls_to("sendMessage")) - sent
    except postgres.NoServer as exc:
        return [Figure(NAME, "all figures", None, "", note=str(exc))]
    if load.non_2xx or load.socket_errors or not sent_after:
        raise BenchmarkFailure(
            f"{load.non_2xx} non-2xx answers, {load.socket_errors} socket errors,"
            f" {sent_after} messages sent after the load"
        )
    return [
        Figure(NAME, "idle, one replica", idle, "/min", note="empty outbox, no waiting order"),
        Figure(
            NAME,
            "per webhook event",
            during / events,
            "",
            note=f"{sent_during} confirmations sent meanwhile",
        ),
        Figure(NAME, "per confirmation sent", sending / sent_after, "", note="after the load"),
    ]
