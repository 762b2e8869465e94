"""What the page draws, as JSON: one person's chat, and the machinery panel (Stripe's events
and the bot's answers, the Bot API calls, the orders)."""

from __future__ import annotations

from typing import Any

from babel import Locale

from bot.demo.people import PEOPLE
from bot.demo.shop import DemoShop
from bot.money import Money
from bot.references import reference_for

# The panel shows the latest of each; the page is for looking, not for auditing.
SHOWN_CALLS = 60
SHOWN_EVENTS = 30
SHOWN_ORDERS = 20
# Long polls are the transport, not something the bot did.
QUIET_METHODS = frozenset({"getUpdates"})
SUMMARY_LENGTH = 90


def chat_view(shop: DemoShop, key: str) -> dict[str, Any]:
    """The person's chat as Telegram shows it: both sides' messages in order (the bot's as they
    are now, edits applied), the command menu, and the bot's answers to their taps."""
    chat = shop.chat(key)
    user = chat.user
    bot_messages = [m | {"outgoing": False} for m in shop.telegram.messages_to(user.id)]
    own = [m | {"outgoing": True} for m in chat.own_messages]
    answers = [
        {
            "id": call.params["callback_query_id"],
            "text": call.params.get("text"),
            "show_alert": call.params.get("show_alert") in (True, "true", "True"),
        }
        for call in shop.telegram.calls_to("answerCallbackQuery")
        if call.status == 200
        and call.params.get("callback_query_id") in chat.callback_queries
        and call.params.get("text")
    ]
    return {
        "person": key,
        "messages": sorted(bot_messages + own, key=lambda m: int(m["message_id"])),
        "menu": shop.telegram.menu_of(user),
        "answers": answers,
    }


async def machinery_view(shop: DemoShop) -> dict[str, Any]:
    """The panel: what Stripe sent and what the bot answered, what the bot asked of Telegram,
    and every order of the page's people with its status."""
    events = [
        {
            "id": d.event.get("id"),
            "type": d.event.get("type"),
            "object": d.event.get("data", {}).get("object", {}).get("id"),
            "attempt": d.attempt,
            "status": d.status,
            "answer": d.response_body[:SUMMARY_LENGTH],
        }
        for d in shop.stripe.deliveries[-SHOWN_EVENTS:]
    ]
    calls = [
        {
            "method": call.method,
            "status": call.status,
            "chat_id": call.params.get("chat_id"),
            "summary": _summary(call.params),
        }
        for call in shop.telegram.calls
        if call.method not in QUIET_METHODS
    ][-SHOWN_CALLS:]
    orders: list[dict[str, Any]] = []
    for person in PEOPLE:
        for order in await shop.service.storage.orders_of_buyer(person.user_id, SHOWN_ORDERS):
            orders.append(
                {
                    "reference": reference_for(order.id),
                    "buyer": person.key,
                    "product": ", ".join(line.title for line in order.lines),
                    "quantity": order.units,
                    "total": Money(order.amount_total, order.currency).format(Locale("en")),
                    "status": order.status.value,
                    "session": order.checkout_session_id,
                    "updated_at": order.updated_at,
                }
            )
    orders.sort(key=lambda o: o["updated_at"], reverse=True)
    return {"events": events, "calls": calls, "orders": orders[:SHOWN_ORDERS]}


def _summary(params: dict[str, Any]) -> str:
    """A call's gist: its text or caption, else its button data, shortened."""
    text = params.get("text") or params.get("caption") or ""
    if not text and "callback_query_id" in params:
        text = "(answered a tap)"
    text = str(text).replace("\n", " ")
    return text if len(text) <= SUMMARY_LENGTH else text[: SUMMARY_LENGTH - 1] + "…"
