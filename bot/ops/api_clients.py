"""The bot's HTTP clients for Telegram and Stripe, timed: each request's duration and status
go to the watch."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import stripe
from telegram.request import BaseRequest, RequestData

from bot.telegram_http import AiohttpRequest

# A Stripe object id in a path (cs_test_a1B2…, pi_3N…, we_1…); a resource name has a longer
# first word (payment_intents) or a shorter second one (line_items).
_STRIPE_ID = re.compile(r"^[a-z]{2,6}_[A-Za-z0-9_]{6,}$")

Observe = Callable[[str, int | None, float], None]


def stripe_operation(method: str, url: str) -> str:
    """`GET /v1/checkout/sessions/{id}`: the request without its ids or query, a bounded label."""
    parts = ["{id}" if _STRIPE_ID.match(part) else part for part in urlsplit(url).path.split("/")]
    return f"{method.upper()} {'/'.join(parts)}"


class TimedTelegramRequest(AiohttpRequest):
    """The bot's Bot API requests, each told to `observe` (method, status, seconds)."""

    def __init__(self, observe: Observe, *, connections: int = 256) -> None:
        super().__init__(connections=connections)
        self._observe = observe

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request, timed; the Bot API method is the URL's last part (the token,
        before it, is never kept)."""
        api_method = url.rsplit("/", 1)[-1]
        started = time.perf_counter()
        try:
            status, body = await super().do_request(
                url,
                method,
                request_data,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )
        except Exception:
            self._observe(api_method, None, time.perf_counter() - started)
            raise
        self._observe(api_method, status, time.perf_counter() - started)
        return status, body


class TimedStripeClient(stripe.AIOHTTPClient):
    """stripe-python's aiohttp client, each request (with its retries) told to `observe`."""

    def __init__(self, observe: Observe, *, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._observe = observe

    async def request_with_retries_async(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        post_data: Any = None,
        max_network_retries: int | None = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[Any, int, Any]:
        operation = stripe_operation(method, url)
        started = time.perf_counter()
        try:
            result = await super().request_with_retries_async(
                method, url, headers, post_data, max_network_retries, _usage=_usage
            )
        except Exception:
            self._observe(operation, None, time.perf_counter() - started)
            raise
        self._observe(operation, result[1], time.perf_counter() - started)
        return result
