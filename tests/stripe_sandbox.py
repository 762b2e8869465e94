"""What the Stripe emulator's tests share: a Checkout request like the bot's, a stripe-python
client pointed at the emulator, and a webhook endpoint that keeps what it is sent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import stripe
from aiohttp import web

from sandbox.stripe_api import StripeEmulator
from storage import NewOrder, OrderLine, Storage

ORDER_METADATA = {
    "order_id": "7",
    "telegram_user_id": "424242",
    "chat_id": "424242",
    "product_id": "forest-hiker",
}


def checkout_params(**overrides: Any) -> dict[str, Any]:
    """What the bot sends for one product, as docs/ARCHITECTURE.md's payment path describes it."""
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 2,
                "price_data": {
                    "currency": "usd",
                    "unit_amount": 39700,
                    "product_data": {
                        "name": "The Forest Hiker",
                        "description": "Breathtaking hike through the Canadian Banff National Park",
                        "images": ["https://example.com/forest-hiker.jpg"],
                    },
                },
            }
        ],
        "client_reference_id": "424242",
        "metadata": dict(ORDER_METADATA),
        "payment_intent_data": {"metadata": dict(ORDER_METADATA)},
        "expires_at": int(time.time()) + 31 * 60,
        "locale": "fr",
        "success_url": "https://t.me/natours_bot?start=paid_K7Q2",
        "cancel_url": "https://t.me/natours_bot?start=cancel_K7Q2",
    }
    params.update(overrides)
    return params


def make_client(emulator: StripeEmulator, http: stripe.AIOHTTPClient, **options: Any) -> Any:
    return stripe.StripeClient(
        options.pop("api_key", emulator.api_key),
        base_addresses={"api": emulator.base_url},
        http_client=http,
        **options,
    )


@asynccontextmanager
async def stripe_http() -> AsyncIterator[stripe.AIOHTTPClient]:
    """stripe-python's aiohttp transport, closed afterwards."""
    http = stripe.AIOHTTPClient()
    try:
        yield http
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]  # untyped in stripe-python


async def orders_with_open_sessions(
    store: Storage,
    emulator: StripeEmulator,
    count: int,
    *,
    product: tuple[str, str, int] = ("trail-map", "Trail Map", 1250),
) -> list[tuple[int, str]]:
    """`count` pending orders of one (id, title, USD cents) product from distinct buyers
    (10000, 10001, …), each with its open Checkout Session: (buyer, session id) pairs."""
    product_id, title, amount = product
    at_once = asyncio.Semaphore(16)
    async with stripe_http() as http:
        client = make_client(emulator, http)

        async def one(number: int) -> tuple[int, str]:
            buyer = 10_000 + number
            line = OrderLine(product_id, title, amount, 1)
            new = NewOrder(buyer, buyer, f"Buyer {number}", None, "en", "usd", (line,))
            async with at_once:
                order = await store.create_order_within_stock(new, stock={})
                assert order is not None
                session = await client.v1.checkout.sessions.create_async(
                    {
                        "mode": "payment",
                        "success_url": "https://t.me/checkout_test_bot?start=paid",
                        "client_reference_id": str(buyer),
                        "metadata": {"order_id": str(order.id)},
                        "line_items": [
                            {
                                "quantity": 1,
                                "price_data": {
                                    "currency": "usd",
                                    "unit_amount": amount,
                                    "product_data": {"name": title},
                                },
                            }
                        ],
                    }
                )
                assert session.url is not None
                await store.attach_checkout(order.id, session.id, session.url, session.expires_at)
            return buyer, session.id

        return list(await asyncio.gather(*(one(number) for number in range(count))))


@dataclass
class Receiver:
    """A stand-in for the bot's POST /stripe/webhook that keeps what it got."""

    url: str = ""
    status: int = 200
    received: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)


@asynccontextmanager
async def webhook_receiver(emulator: StripeEmulator) -> AsyncIterator[Receiver]:
    """A Receiver listening on 127.0.0.1, set as the emulator's webhook endpoint."""
    receiver = Receiver()

    async def webhook(request: web.Request) -> web.Response:
        receiver.received.append((await request.read(), dict(request.headers)))
        return web.Response(status=receiver.status, text="ok")

    app = web.Application()
    app.router.add_post("/stripe/webhook", webhook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        receiver.url = f"http://{host}:{port}/stripe/webhook"
        emulator.webhook_url = receiver.url
        yield receiver
    finally:
        await runner.cleanup()
