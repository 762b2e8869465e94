"""The Charge behind a paid PaymentIntent, in Stripe's shape.

A card payment made on Checkout succeeds at once: its charge is ``ch_…``,
captured in full. A delayed payment method (the ``complete_unpaid`` path)
makes a ``py_…`` charge, as Stripe does for bank debits, that stays
``pending`` until the payment succeeds or fails.

Since API version 2022-11-15 a charge carries no ``refunds`` list unless it is
asked for with ``expand[]=refunds``; ``amount_refunded`` and ``refunded`` are
always there and cumulative.
"""

from __future__ import annotations

from typing import Any

from .objects import fixture, new_id

__all__ = ["build_charge", "capture", "fail", "record_refund", "refundable"]


def build_charge(
    intent: dict[str, Any],
    *,
    status: str,
    created: int,
    email: str | None,
) -> dict[str, Any]:
    """The charge of ``intent``: ``succeeded`` (card) or ``pending`` (delayed method)."""
    charge = fixture("charge")
    del charge["refunds"]
    id = new_id("ch_" if status == "succeeded" else "py_")
    succeeded = status == "succeeded"
    charge.update(
        {
            "id": id,
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount"] if succeeded else 0,
            "amount_refunded": 0,
            "application": None,
            "application_fee": None,
            "application_fee_amount": None,
            "balance_transaction": new_id("txn_") if succeeded else None,
            "billing_details": _billing_details(charge["billing_details"], email),
            "calculated_statement_descriptor": "CHECKOUT-BOT",
            "captured": succeeded,
            "created": created,
            "currency": intent["currency"],
            "customer": None,
            "description": intent["description"],
            "disputed": False,
            "failure_balance_transaction": None,
            "failure_code": None,
            "failure_message": None,
            "fraud_details": {},
            "livemode": False,
            "metadata": dict(intent["metadata"]),
            "on_behalf_of": None,
            "outcome": _outcome(charge["outcome"]),
            "paid": succeeded,
            "payment_intent": intent["id"],
            "payment_method": intent["payment_method"],
            "receipt_email": intent["receipt_email"],
            "receipt_number": None,
            "receipt_url": f"https://pay.stripe.com/receipts/payment/{new_id('', 120)}",
            "refunded": False,
            "review": None,
            "shipping": None,
            "source": None,
            "source_transfer": None,
            "statement_descriptor": intent["statement_descriptor"],
            "statement_descriptor_suffix": intent["statement_descriptor_suffix"],
            "status": status,
            "transfer_data": None,
            "transfer_group": intent["transfer_group"],
        }
    )
    return charge


def capture(charge: dict[str, Any]) -> None:
    """A pending charge of a delayed payment method succeeds."""
    charge.update(
        status="succeeded",
        paid=True,
        captured=True,
        amount_captured=charge["amount"],
        balance_transaction=new_id("txn_"),
    )


def fail(charge: dict[str, Any]) -> None:
    charge.update(
        status="failed",
        failure_code="insufficient_funds",
        failure_message="The customer's account has insufficient funds to cover this payment.",
    )


def refundable(charge: dict[str, Any]) -> int:
    """What is left to refund, in the currency's minor unit."""
    return int(charge["amount_captured"]) - int(charge["amount_refunded"])


def record_refund(charge: dict[str, Any], amount: int) -> None:
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] == charge["amount_captured"]


def _billing_details(example: dict[str, Any], email: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {key: None for key in example}
    address: dict[str, Any] = {key: None for key in example["address"]}
    address.update(country="US", postal_code="94103")
    details["address"] = address
    details.update(email=email, name="Jenny Rosen")
    return details


def _outcome(example: dict[str, Any]) -> dict[str, Any]:
    outcome: dict[str, Any] = {key: None for key in example}
    outcome.update(
        network_status="approved_by_network",
        risk_level="normal",
        risk_score=32,
        seller_message="Payment complete.",
        type="authorized",
    )
    return outcome
