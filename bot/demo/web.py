"""The demo's web server: the page, its HTTP API and the live WebSocket feed."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from bot.demo import checkout
from bot.demo.people import PEOPLE
from bot.demo.shop import DemoError, DemoShop
from bot.demo.views import chat_view, machinery_view

SHOP_KEY = web.AppKey("shop", DemoShop)


@dataclass
class Feeds:
    """The live feeds open now, closed when the server stops."""

    sockets: set[web.WebSocketResponse] = field(default_factory=set)


FEEDS_KEY = web.AppKey("feeds", Feeds)
STATIC_FILES = {
    "index.html": "text/html",
    "checkout.html": "text/html",
    "demo.css": "text/css",
    "chat.js": "text/javascript",
    "checkout.js": "text/javascript",
}
# The feed looks again this often even when Telegram is quiet, for what changes at Stripe's
# side or in the database alone (an order's status), and sends only what changed.
FEED_REFRESH_SECONDS = 1.0


def create_demo_app(shop: DemoShop) -> web.Application:
    app = web.Application(middlewares=[_errors_as_json])
    app[SHOP_KEY] = shop
    app[FEEDS_KEY] = Feeds()
    app.on_shutdown.append(_close_feeds)
    app.router.add_get("/", _page("index.html"))
    app.router.add_get("/checkout/{session_id}", _page("checkout.html"))
    app.router.add_get("/static/{name}", _static)
    app.router.add_get("/api/people", _people)
    app.router.add_get("/api/chat", _chat)
    app.router.add_get("/api/machinery", _machinery)
    app.router.add_post("/api/say", _say)
    app.router.add_post("/api/tap", _tap)
    app.router.add_post("/api/open", _open)
    app.router.add_get("/api/files/{file_id}", _file)
    app.router.add_get("/api/checkout/{session_id}", _checkout_summary)
    app.router.add_post("/api/checkout/{session_id}", _checkout_act)
    app.router.add_post("/api/checkout/{session_id}/promotion-code", _checkout_code)
    app.router.add_get("/api/live", _live)
    return app


@web.middleware
async def _errors_as_json(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except DemoError as exc:
        return web.json_response({"error": str(exc)}, status=exc.status)
    return response


def _page(name: str) -> Any:
    async def page(request: web.Request) -> web.Response:
        return _static_file(name)

    return page


async def _static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise DemoError(404, f"no file {name!r}")
    return _static_file(name)


def _static_file(name: str) -> web.Response:
    body = resources.files("bot.demo").joinpath("static", name).read_bytes()
    return web.Response(body=body, content_type=STATIC_FILES[name], charset="utf-8")


async def _people(request: web.Request) -> web.Response:
    return web.json_response(
        [{"key": p.key, "label": p.label, "language": p.language_code} for p in PEOPLE]
    )


async def _chat(request: web.Request) -> web.Response:
    return web.json_response(chat_view(request.app[SHOP_KEY], request.query.get("as", "")))


async def _machinery(request: web.Request) -> web.Response:
    return web.json_response(await machinery_view(request.app[SHOP_KEY]))


async def _say(request: web.Request) -> web.Response:
    body = await _json_body(request)
    message = await request.app[SHOP_KEY].say(_text(body, "as"), _text(body, "text"))
    return web.json_response({"message_id": message["message_id"]})


async def _tap(request: web.Request) -> web.Response:
    body = await _json_body(request)
    message_id = body.get("message_id")
    if not isinstance(message_id, int) or isinstance(message_id, bool):
        raise DemoError(400, "message_id must be a whole number")
    query_id = await request.app[SHOP_KEY].tap(_text(body, "as"), message_id, _text(body, "data"))
    return web.json_response({"callback_query_id": query_id})


async def _open(request: web.Request) -> web.Response:
    body = await _json_body(request)
    path = await request.app[SHOP_KEY].open_link(_text(body, "as"), _text(body, "url"))
    return web.json_response({"open": path})


async def _file(request: web.Request) -> web.Response:
    found = request.app[SHOP_KEY].telegram.file_content(request.match_info["file_id"])
    if found is None:
        raise DemoError(404, "no such file")
    name, mime_type, data = found
    headers = {}
    if "download" in request.query:
        headers["Content-Disposition"] = f'attachment; filename="{_safe_name(name)}"'
    return web.Response(body=data, content_type=mime_type, headers=headers)


async def _checkout_summary(request: web.Request) -> web.Response:
    shop = request.app[SHOP_KEY]
    return web.json_response(checkout.summary(shop, request.match_info["session_id"]))


async def _checkout_act(request: web.Request) -> web.Response:
    body = await _json_body(request)
    shop = request.app[SHOP_KEY]
    done = await checkout.act(shop, request.match_info["session_id"], _text(body, "outcome"))
    return web.json_response(done)


async def _checkout_code(request: web.Request) -> web.Response:
    body = await _json_body(request)
    checkout.apply_code(
        request.app[SHOP_KEY], request.match_info["session_id"], _text(body, "code")
    )
    return web.json_response({"applied": True})


async def _live(request: web.Request) -> web.WebSocketResponse:
    """The person's chat and the panel, sent at once and again whenever they change."""
    shop = request.app[SHOP_KEY]
    key = request.query.get("as", "")
    shop.chat(key)  # an unknown person is answered 400 before the upgrade
    socket = web.WebSocketResponse(heartbeat=30)
    await socket.prepare(request)
    request.app[FEEDS_KEY].sockets.add(socket)
    reader = asyncio.create_task(_drain(socket))
    last = ""
    try:
        while not socket.closed and not reader.done():
            seen = shop.telegram.revision
            snapshot = json.dumps(
                {"chat": chat_view(shop, key), "machinery": await machinery_view(shop)}
            )
            if snapshot != last:
                await socket.send_str(snapshot)
                last = snapshot
            await _next_change(shop, seen, reader)
    except ConnectionResetError:
        pass  # the page went away mid-send
    finally:
        request.app[FEEDS_KEY].sockets.discard(socket)
        reader.cancel()
        await socket.close()
    return socket


async def _close_feeds(app: web.Application) -> None:
    """Open pages would hold the server's shutdown: tell them it is going away."""
    for socket in list(app[FEEDS_KEY].sockets):
        await socket.close(code=WSCloseCode.GOING_AWAY, message=b"the demo is stopping")


async def _next_change(shop: DemoShop, seen: int, reader: asyncio.Task[None]) -> None:
    """Until the emulator moves past `seen` or the page closes; at most FEED_REFRESH_SECONDS."""
    with contextlib.suppress(TimeoutError):
        await shop.telegram.wait_until(
            lambda: shop.telegram.revision != seen or reader.done(),
            timeout=FEED_REFRESH_SECONDS,
        )


async def _drain(socket: web.WebSocketResponse) -> None:
    """The page sends nothing on the feed; this notices it close."""
    async for message in socket:
        if message.type is WSMsgType.ERROR:
            return


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise DemoError(400, "the body must be JSON") from None
    if not isinstance(body, dict):
        raise DemoError(400, "the body must be a JSON object")
    return body


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise DemoError(400, f"{name} must be a string")
    return value


def _safe_name(name: str) -> str:
    return "".join(c for c in name if c.isalnum() or c in "._-") or "file"
