"""``POST /v1/refunds``: the parameters, the checks against the charge, the Refund object.

Stripe's wording, as its API answers (messages seen in real responses):

- neither ``charge`` nor ``payment_intent``: "One of the following params
  should be provided for this request: payment_intent or charge." (no code);
- a PaymentIntent or charge with nothing captured: "This PaymentIntent (pi_…)
  does not have a successful charge to refund.";
- nothing left: "Charge ch_… has already been refunded.", code
  ``charge_already_refunded``;
- more than is left: "Refund amount ($25.00) is greater than unrefunded amount
  on charge ($21.45)", ``param: amount`` and no code.

A card refund succeeds at once; it may fail later (``fail_refund``: a lost or closed card),
when Stripe sends ``charge.refund.updated`` and ``refund.failed`` and the charge's
``amount_refunded`` goes down. Since API version 2024-10-28.acacia Stripe
sends ``refund.created`` for every refund, beside ``charge.refunded`` (the
charge with its cumulative ``amount_refunded``); ``charge.refund.updated`` and
``refund.updated`` follow only a later change of the refund's status, which a
card refund does not have.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from . import currencies
from .errors import StripeError, invalid_request
from .objects import fixture, new_id
from .params import (
    only_one_of,
    read_enum,
    read_expand,
    read_int,
    read_metadata,
    read_string,
    reject_unknown,
)

__all__ = [
    "FAILURE_REASONS",
    "REASONS",
    "RefundSpec",
    "already_refunded",
    "build_refund",
    "no_successful_charge",
    "parse_create",
    "too_large",
]

REASONS = ("duplicate", "fraudulent", "requested_by_customer")
CREATE_PARAMS = frozenset(
    """
    amount charge currency customer expand instructions_email metadata origin payment_intent
    reason refund_application_fee reverse_transfer
    """.split()
)
# Parameters of Stripe's create call that concern Connect, customer balances
# or bank refunds: none of them can apply to a Checkout card payment here.
NOT_EMULATED = frozenset(
    "currency customer instructions_email origin refund_application_fee reverse_transfer".split()
)
_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}


@dataclass(frozen=True)
class RefundSpec:
    """A create request that passed the parameter checks."""

    charge: str | None
    payment_intent: str | None
    amount: int | None
    reason: str | None
    metadata: dict[str, str] = field(default_factory=dict)
    expand: tuple[str, ...] = ()


FAILURE_REASONS = ("lost_or_stolen_card", "expired_or_canceled_card", "unknown")


def parse_create(params: dict[str, Any]) -> RefundSpec:
    reject_unknown(params, CREATE_PARAMS)
    for name in sorted(NOT_EMULATED & params.keys()):
        raise invalid_request(f"The Stripe emulator does not implement `{name}` on refunds.", name)
    only_one_of(params, ("charge", "payment_intent"))
    if "charge" not in params and "payment_intent" not in params:
        raise invalid_request(
            "One of the following params should be provided for this request: "
            "payment_intent or charge."
        )
    return RefundSpec(
        charge=read_string(params["charge"], "charge") if "charge" in params else None,
        payment_intent=(
            read_string(params["payment_intent"], "payment_intent")
            if "payment_intent" in params
            else None
        ),
        amount=(
            read_int(params["amount"], "amount", minimum=1, maximum=currencies.MAX_AMOUNT)
            if "amount" in params
            else None
        ),
        reason=read_enum(params["reason"], "reason", REASONS) if "reason" in params else None,
        metadata=read_metadata(params.get("metadata", ""), "metadata"),
        expand=tuple(read_expand(params)),
    )


def no_successful_charge(payment_intent: str) -> StripeError:
    return invalid_request(
        f"This PaymentIntent ({payment_intent}) does not have a successful charge to refund."
    )


def already_refunded(charge: str) -> StripeError:
    return invalid_request(
        f"Charge {charge} has already been refunded.", code="charge_already_refunded"
    )


def too_large(amount: int, left: int, currency: str) -> StripeError:
    return invalid_request(
        f"Refund amount ({_money(amount, currency)}) is greater than unrefunded amount on "
        f"charge ({_money(left, currency)})",
        "amount",
    )


def build_refund(
    charge: dict[str, Any],
    *,
    amount: int,
    reason: str | None,
    metadata: dict[str, str],
    created: int,
) -> dict[str, Any]:
    refund = fixture("refund")
    refund.update(
        {
            "id": new_id("re_"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": new_id("txn_"),
            "charge": charge["id"],
            "created": created,
            "currency": charge["currency"],
            "customer": None,
            "customer_account": None,
            "metadata": dict(metadata),
            "payment_intent": charge["payment_intent"],
            "payment_method": charge["payment_method"],
            "reason": reason,
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": "succeeded",
            "transfer_reversal": None,
        }
    )
    return refund


def _money(amount: int, currency: str) -> str:
    """``(2145, "usd")`` -> ``$21.45``, as the refund errors print amounts."""
    places = currencies.exponent(currency)
    major = f"{Decimal(amount).scaleb(-places):.{places}f}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{major}" if symbol else f"{major} {currency.upper()}"
