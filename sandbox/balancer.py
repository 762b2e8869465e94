"""A small round-robin HTTP reverse proxy in front of several bot processes (replicas), as a
platform's load balancer is: for the tests and benchmarks of several replicas.

Usage::

    async with Balancer(["http://127.0.0.1:8081", "http://127.0.0.1:8082"]) as balancer:
        stripe_api.webhook_url = f"{balancer.url}/stripe/webhook"
        balancer.add("http://127.0.0.1:8083")      # a rolling deploy: the new one joins,
        balancer.remove("http://127.0.0.1:8081")   # the old one leaves before it stops

or, as a process: ``python -m sandbox.balancer PORT BACKEND_URL...``.

What it does, like a balancer with default settings:

- Each request goes to the next backend in turn, with its method, path, query, headers and
  body; the backend's answer (a 5xx too) goes back to the client as it is.
- A backend that refuses the connection (stopped, killed) has been sent nothing: the request
  goes to the next one. A backend that takes the request and drops the connection before
  answering may have acted on it: the client gets 502, and retries if it wants to.
- No backend answering (or none at all): 502 with a reason.
- ``answers`` counts, per backend, the answers it gave, for tests to read.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import sys
from collections.abc import Iterable
from types import TracebackType

import aiohttp
from aiohttp import web

# Headers that belong to one connection, not to the request (RFC 9110, 7.6.1), and those the
# proxy sets itself.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
# As a platform's balancer gives up on a backend that does not answer.
BACKEND_SECONDS = 60.0
MAX_BODY_BYTES = 8 * 1024 * 1024


class Balancer:
    """Round robin over `backends` (base URLs), listening on 127.0.0.1:`port` (0: any)."""

    def __init__(self, backends: Iterable[str] = (), *, port: int = 0) -> None:
        self._backends = [backend.rstrip("/") for backend in backends]
        self._next = 0
        self._port = port
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self.answers: collections.Counter[str] = collections.Counter()

    @property
    def backends(self) -> list[str]:
        return list(self._backends)

    def add(self, backend: str) -> None:
        """Send requests to `backend` too, from the next one on."""
        backend = backend.rstrip("/")
        if backend not in self._backends:
            self._backends.append(backend)

    def remove(self, backend: str) -> None:
        """Send `backend` no more requests (those it has keep going)."""
        backend = backend.rstrip("/")
        if backend in self._backends:
            self._backends.remove(backend)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    async def start(self) -> None:
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=BACKEND_SECONDS),
            auto_decompress=False,
            connector=aiohttp.TCPConnector(limit=0),
        )
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_route("*", "/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        self._port = self._runner.addresses[0][1]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()

    async def __aenter__(self) -> Balancer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _turns(self) -> list[str]:
        """Every backend once, starting with the next one in turn."""
        backends = list(self._backends)
        if not backends:
            return []
        start = self._next % len(backends)
        self._next = start + 1
        return backends[start:] + backends[:start]

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._http is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        for backend in self._turns():
            try:
                async with self._http.request(
                    request.method,
                    backend + request.rel_url.raw_path_qs,
                    headers=headers,
                    data=body,
                    allow_redirects=False,
                ) as answer:
                    content = await answer.read()
                    kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
                    self.answers[backend] += 1
                    return web.Response(status=answer.status, headers=kept, body=content)
            except aiohttp.ClientConnectorError:
                continue  # nothing was sent: the next backend may take it
            except (TimeoutError, aiohttp.ClientError) as exc:
                return web.Response(status=502, text=f"backend {backend} failed: {exc!r}")
        return web.Response(status=502, text="no backend took the connection")


async def _serve(port: int, backends: list[str]) -> None:
    async with Balancer(backends, port=port) as balancer:
        print(f"balancing {balancer.url} over {', '.join(backends)}", flush=True)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.balancer", description=__doc__)
    parser.add_argument("port", type=int)
    parser.add_argument("backends", nargs="+")
    options = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(options.port, options.backends))
    return 0


if __name__ == "__main__":
    sys.exit(main())
