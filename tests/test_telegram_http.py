"""The Bot API transport: PTB's errors for what goes wrong on the wire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from telegram.error import NetworkError, TimedOut

from bot.telegram_http import AiohttpRequest


@pytest.fixture
async def transport() -> AsyncIterator[AiohttpRequest]:
    request = AiohttpRequest()
    await request.initialize()
    yield request
    await request.shutdown()


async def test_nobody_listening_is_a_network_error(
    transport: AiohttpRequest,
    closed_port: int,
) -> None:
    with pytest.raises(NetworkError, match=r"aiohttp\.ClientConnectorError"):
        await transport.do_request(f"http://127.0.0.1:{closed_port}/botX/getMe", "POST")


async def test_a_server_that_never_answers_is_a_timeout(transport: AiohttpRequest) -> None:
    never = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await never.wait()
        return web.Response()

    app = web.Application()
    app.router.add_post("/botX/getMe", hang)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        with pytest.raises(TimedOut):
            await transport.do_request(
                f"http://127.0.0.1:{port}/botX/getMe", "POST", read_timeout=0.1, write_timeout=0.0
            )
    finally:
        never.set()
        await runner.cleanup()


async def test_an_unstarted_transport_says_so() -> None:
    with pytest.raises(RuntimeError, match="not initialized"):
        await AiohttpRequest().do_request("http://127.0.0.1:1/", "POST")
