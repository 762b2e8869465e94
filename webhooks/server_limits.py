"""The web server's defences against slow and numerous clients: a deadline for a request's
headers and one for its body, and a cap on the connections open at once."""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler

log = logging.getLogger(__name__)

# Said to a connection over the cap before it is closed, so that a client knows why.
REFUSAL = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
# Refusals are counted and reported at most once per this many seconds: a flood of them must
# not fill the disk that the database needs.
REPORT_EVERY_SECONDS = 60.0


@dataclass(frozen=True)
class HttpLimits:
    """`header_seconds`: from a connection's start (or its previous response) to the end of a
    request's headers; `body_seconds`: from the headers to the end of the body;
    `max_connections`: open at once, and never more than half the process's file limit (the
    database, its journal and Telegram's and Stripe's connections need the rest)."""

    header_seconds: float = 10.0
    body_seconds: float = 15.0
    max_connections: int = 256

    def connection_cap(self) -> int:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return self.max_connections
        return max(1, min(self.max_connections, soft // 2))


HTTP_LIMITS = HttpLimits()


def with_body_deadline(handler: Handler, seconds: float) -> Handler:
    """`handler`, run once the whole body is in: a body that is not in within `seconds` is
    answered 408 and its connection closed.

    A wrapper of each route that takes a body rather than a middleware: with any middleware,
    aiohttp runs the chain and a middleware of its own around every request, two coroutines
    and a cache lookup more per webhook event."""

    async def read_body_in_time(request: web.Request) -> web.StreamResponse:
        # A body that came in with the headers (most webhooks: a few KB in one packet) is
        # already whole: no timer to arm and cancel for it, which is a few percent of a
        # webhook's CPU at a flash sale's rate.
        if request.can_read_body and not request.content.is_eof():
            try:
                async with asyncio.timeout(seconds):
                    await request.read()  # kept by aiohttp: the handler's read() returns it
            except TimeoutError:
                log.warning("closed a connection whose request body was not in after %ss", seconds)
                response = web.json_response(
                    {"error": f"request body not received within {seconds:g} s"}, status=408
                )
                response.force_close()
                return response
        return await handler(request)

    return read_body_in_time


class ConnectionCap:
    """The server's protocol factory: aiohttp's handler for each connection while fewer than
    `limit` are open; past it, a 503 and the connection closed at once."""

    def __init__(
        self,
        server: web.Server,
        limit: int,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._server = server
        self._limit = limit
        self._clock = clock
        self.open = 0
        self._refused = 0
        self._reported_at: float | None = None

    def __call__(self) -> asyncio.Protocol:
        if self.open >= self._limit:
            self._refuse()
            return _Refused()
        self.open += 1
        return _Counted(self._server(), self._closed)

    def _closed(self) -> None:
        self.open -= 1

    def _refuse(self) -> None:
        self._refused += 1
        now = self._clock()
        if self._reported_at is None or now - self._reported_at >= REPORT_EVERY_SECONDS:
            log.warning(
                "refused %d connection(s): %d open, the most allowed (reported at most once"
                " a minute)",
                self._refused,
                self._limit,
            )
            self._refused, self._reported_at = 0, now


class _Counted(asyncio.Protocol):
    """aiohttp's handler for one connection, telling the cap when the connection ends."""

    def __init__(self, inner: asyncio.Protocol, on_close: Callable[[], None]) -> None:
        self._inner = inner
        self._on_close: Callable[[], None] | None = on_close

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._on_close is not None:
            self._on_close()
            self._on_close = None
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


class _Refused(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(REFUSAL)
        transport.close()


class CappedSite(web.BaseSite):
    """aiohttp's TCP site, with its connections counted by a `ConnectionCap`."""

    __slots__ = ("_cap", "_host", "_port")

    def __init__(self, runner: web.BaseRunner, host: str, port: int, limit: int) -> None:
        super().__init__(runner)
        assert runner.server is not None
        self._host, self._port = host, port
        self._cap = ConnectionCap(runner.server, limit)

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        self._server = await asyncio.get_running_loop().create_server(
            self._cap, self._host, self._port, reuse_address=True
        )
