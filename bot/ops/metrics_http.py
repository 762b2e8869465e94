"""`GET /metrics`: Prometheus' text format, for a scraper holding METRICS_TOKEN."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.ops.metrics import Metrics
from storage import Storage, StorageError


class MetricsEndpoint:
    """Answers 401 without the bearer token; refreshes the figures read from the database
    (outbox, orders by status) before each scrape."""

    def __init__(
        self,
        metrics: Metrics,
        storage: Storage,
        token: str,
        *,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._metrics = metrics
        self._storage = storage
        self._expected = f"Bearer {token}".encode()
        self._wall_clock = wall_clock

    async def handle(self, request: web.Request) -> web.Response:
        """The metrics, to a request with `Authorization: Bearer METRICS_TOKEN`."""
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, self._expected):
            return web.json_response(
                {"error": "a bearer token (METRICS_TOKEN) is required"},
                status=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            await self.refresh()
        except StorageError as exc:
            return web.json_response({"error": f"the database did not answer: {exc}"}, status=503)
        response = web.Response(body=self._metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def refresh(self) -> None:
        """Read the gauges that are figures of the database."""
        metrics = self._metrics
        backlog = await self._storage.outbox_backlog()
        metrics.outbox_waiting.set(backlog.waiting)
        oldest = backlog.oldest_queued_at
        metrics.outbox_oldest_age.set(0 if oldest is None else max(self._wall_clock() - oldest, 0))
        for status, count in (await self._storage.orders_by_status()).items():
            metrics.orders.labels(status.value).set(count)
