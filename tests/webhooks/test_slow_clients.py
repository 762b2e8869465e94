"""Slow and numerous clients against the real web server over loopback: headers and bodies have
deadlines, and connections past the cap are refused, quietly."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import aiohttp
import pytest

from bot.catalog.model import Catalog
from bot.service import Service
from bot.settings import Settings
from tests.helpers import QUICK_RETRIES, snapshot
from webhooks.server_limits import HttpLimits

# Long enough for a loaded machine to send a request in time, short enough to wait out.
QUICK = 1.0
# Never reached within a test: the connections it holds stay open.
NEVER = 600.0
CAP = 6


def slow_shop(settings: Settings, catalog: Catalog, limits: HttpLimits) -> Service:
    return Service(settings, catalog, outbox_delays=QUICK_RETRIES, http_limits=limits)


async def open_connection(
    service: Service,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", service.http_port)


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server said until it closed the connection (at most 20 s)."""
    return await asyncio.wait_for(reader.read(), timeout=20)


async def health(service: Service) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{service.http_url}/healthz") as response,
    ):
        return response.status


@pytest.fixture
async def quick_deadlines(
    make_settings: Callable[..., Settings], catalog: Catalog
) -> AsyncIterator[Service]:
    limits = HttpLimits(header_seconds=QUICK, body_seconds=QUICK, max_connections=CAP)
    async with slow_shop(make_settings(), catalog, limits) as service:
        yield service


async def test_headers_that_never_end_are_cut_off(quick_deadlines: Service) -> None:
    reader, writer = await open_connection(quick_deadlines)
    writer.write(b"POST /stripe/webhook HTTP/1.1\r\nHost: shop\r\n")
    await writer.drain()
    assert await closed_by_server(reader) == b""
    writer.close()


async def test_a_connection_that_sends_nothing_is_cut_off(quick_deadlines: Service) -> None:
    reader, writer = await open_connection(quick_deadlines)
    assert await closed_by_server(reader) == b""
    writer.close()


async def test_a_body_that_never_arrives_is_answered_408_and_changes_nothing(
    quick_deadlines: Service,
) -> None:
    before = snapshot(quick_deadlines.settings.database_path)
    reader, writer = await open_connection(quick_deadlines)
    writer.write(
        b"POST /stripe/webhook HTTP/1.1\r\nHost: shop\r\nStripe-Signature: t=1,v1=00\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{"
    )
    await writer.drain()
    answer = await closed_by_server(reader)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert "not received within" in json.loads(body)["error"]
    assert snapshot(quick_deadlines.settings.database_path) == before


async def test_connections_past_the_cap_are_refused_with_one_log_line(
    make_settings: Callable[..., Settings], catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    limits = HttpLimits(header_seconds=NEVER, body_seconds=NEVER, max_connections=CAP)
    async with AsyncExitStack() as held, slow_shop(make_settings(), catalog, limits) as shop:
        writers = [(await open_connection(shop))[1] for _ in range(CAP)]
        for writer in writers:
            held.callback(writer.close)
        with caplog.at_level(logging.WARNING, logger="webhooks.server_limits"):
            answers = []
            for _ in range(5):
                reader, writer = await open_connection(shop)
                answers.append(await closed_by_server(reader))
                writer.close()
        assert all(answer.startswith(b"HTTP/1.1 503 ") for answer in answers)
        refusals = [r for r in caplog.records if r.name == "webhooks.server_limits"]
        assert len(refusals) == 1 and "refused 1 connection" in refusals[0].getMessage()
        await held.aclose()
        # The held ones closed, the server answers again.
        await asyncio.wait_for(healthy(shop), timeout=20)


async def healthy(service: Service) -> None:
    """Return once /healthz answers 200."""
    while True:
        try:
            if await health(service) == 200:
                return
        except aiohttp.ClientError:
            pass  # refused while the server has not yet seen the held connections close
