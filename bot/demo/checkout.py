"""The stand-in for Stripe's hosted Checkout page: what it shows for a session, and what the
buyer can do there, each played by the Stripe emulator with the signed events Stripe sends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from babel import Locale, UnknownLocaleError

from bot.demo.shop import DemoError, DemoShop
from bot.money import Money


class Outcome(StrEnum):
    """What a buyer meets on the page, and what the bank does later with a delayed payment."""

    PAY = "pay"
    DELAYED = "delayed"
    DECLINE = "decline"
    EXPIRE = "expire"
    DELAYED_SUCCEEDS = "delayed_succeeds"
    DELAYED_FAILS = "delayed_fails"


# Which outcomes a session offers in each of its states (status, payment status).
OPEN_OUTCOMES = (Outcome.PAY, Outcome.DELAYED, Outcome.DECLINE, Outcome.EXPIRE)
WAITING_OUTCOMES = (Outcome.DELAYED_SUCCEEDS, Outcome.DELAYED_FAILS)
# A new Stripe account has no promotion codes, and neither has the emulator's.
INVALID_CODE = "This code is invalid."


def outcomes_of(session: dict[str, Any], shop: DemoShop) -> tuple[Outcome, ...]:
    if session["status"] == "open":
        return OPEN_OUTCOMES
    intent = shop.stripe.payment_intents.get(session.get("payment_intent") or "")
    waiting = intent is not None and intent["status"] == "processing"
    if session["status"] == "complete" and session["payment_status"] == "unpaid" and waiting:
        return WAITING_OUTCOMES
    return ()


def summary(shop: DemoShop, session_id: str) -> dict[str, Any]:
    """What the page shows: the line items and total in the buyer's language, the session's
    state, and the outcomes it still offers."""
    session = shop.session(session_id)
    locale = _locale(session.get("locale"))
    items = [
        {
            "description": item["description"],
            "quantity": item["quantity"],
            "amount": Money(item["amount_total"], item["currency"]).format(locale),
        }
        for item in shop.stripe.line_items(session_id)
    ]
    return {
        "id": session_id,
        "status": session["status"],
        "payment_status": session["payment_status"],
        "line_items": items,
        "total": Money(session["amount_total"], session["currency"]).format(locale),
        "allow_promotion_codes": bool(session.get("allow_promotion_codes")),
        "buyer": shop.buyer_of(session).key,
        "outcomes": [outcome.value for outcome in outcomes_of(session, shop)],
    }


async def act(shop: DemoShop, session_id: str, outcome: str) -> dict[str, Any]:
    """Play an outcome; returns what the page says, and whether the buyer went back to the chat
    through the success URL's deep link."""
    session = shop.session(session_id)
    try:
        chosen = Outcome(outcome)
    except ValueError:
        known = ", ".join(o.value for o in Outcome)
        raise DemoError(400, f"unknown outcome {outcome!r}: expected one of {known}") from None
    buyer = shop.buyer_of(session)
    if chosen not in outcomes_of(session, shop):
        raise DemoError(
            409,
            f"this session is {session['status']} ({session['payment_status']}): "
            f"{chosen.value} is not possible now",
        )
    if chosen is Outcome.DECLINE:
        error = shop.stripe.decline_card(session_id)
        return {"message": error["message"], "returned": False, "buyer": buyer.key}
    play: dict[Outcome, Callable[[str], Awaitable[Any]]] = {
        Outcome.PAY: shop.stripe.pay,
        Outcome.DELAYED: shop.stripe.complete_unpaid,
        Outcome.EXPIRE: shop.stripe.expire_session,
        Outcome.DELAYED_SUCCEEDS: shop.stripe.async_payment_succeeded,
        Outcome.DELAYED_FAILS: shop.stripe.async_payment_failed,
    }
    await play[chosen](session_id)
    # Stripe redirects to the success URL once the buyer completed the page, paid or not.
    returned = chosen in (Outcome.PAY, Outcome.DELAYED)
    if returned:
        await shop.return_to_chat(session)
    return {"message": MESSAGES[chosen], "returned": returned, "buyer": buyer.key}


def apply_code(shop: DemoShop, session_id: str, code: str) -> None:
    """The promotion code field: refused, as Stripe's page refuses a code the account lacks."""
    session = shop.session(session_id)
    if not session.get("allow_promotion_codes"):
        raise DemoError(400, "this session takes no promotion codes")
    if session["status"] != "open":
        raise DemoError(409, f"this session is {session['status']}")
    if not code.strip():
        raise DemoError(400, "enter a code")
    raise DemoError(400, INVALID_CODE)


MESSAGES = {
    Outcome.PAY: "Paid by card.",
    Outcome.DELAYED: "Payment started by bank debit: it is processing.",
    Outcome.EXPIRE: "The session expired unpaid.",
    Outcome.DELAYED_SUCCEEDS: "The bank debit went through.",
    Outcome.DELAYED_FAILS: "The bank debit failed.",
}


def _locale(stripe_locale: str | None) -> Locale:
    """The page's language: the session's locale, or English for "auto" and the unknown."""
    try:
        return Locale.parse((stripe_locale or "en").replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale("en")
