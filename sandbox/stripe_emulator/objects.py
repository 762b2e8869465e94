"""Stripe objects of the real shape, built on Stripe's published example objects.

Each object starts as a deep copy of its example in ``sandbox/stripe_fixtures.json``
(so every field Stripe sends is present, with the right nesting and nulls) and
then has the fields the emulator knows overwritten. Example values that would
be misleading (made-up amounts, ids of objects that do not exist) are reset to
what a plain test-mode payment has.
"""

from __future__ import annotations

import copy
import functools
import json
import secrets
import string
from importlib import resources
from typing import Any

from .checkout import CheckoutSpec, LineItem

__all__ = [
    "build_event",
    "build_line_item",
    "build_payment_intent",
    "build_session",
    "fixture",
    "list_object",
    "new_id",
]

_ALPHANUMERIC = string.ascii_letters + string.digits


@functools.cache
def _fixtures() -> dict[str, Any]:
    # From Stripe's public stripe/openapi repository (openapi/fixtures3.json),
    # MIT License, Copyright (c) 2011- Stripe, Inc.
    text = resources.files("sandbox").joinpath("stripe_fixtures.json").read_text("utf-8")
    fixtures: dict[str, Any] = json.loads(text)["resources"]
    return fixtures


def fixture(name: str) -> dict[str, Any]:
    """A fresh deep copy of Stripe's example object ``name`` (e.g. ``"checkout.session"``)."""
    return copy.deepcopy(_fixtures()[name])


def new_id(prefix: str, length: int = 24) -> str:
    """``new_id("pi_")`` -> ``pi_3Qx…``: Stripe ids are a prefix and random alphanumerics."""
    return prefix + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def session_id() -> str:
    # Real test-mode session ids are "cs_test_" and 58 characters, like the fixture's.
    return new_id("cs_test_", 58)


def build_session(spec: CheckoutSpec) -> dict[str, Any]:
    session = fixture("checkout.session")
    id = session_id()
    fragment = new_id("", 120)
    session.update(
        {
            "id": id,
            "object": "checkout.session",
            "adaptive_pricing": {"enabled": False},
            "after_expiration": None,
            "allow_promotion_codes": spec.allow_promotion_codes,
            "amount_subtotal": spec.amount_total,
            "amount_total": spec.amount_total,
            "automatic_tax": {
                "enabled": False,
                "liability": None,
                "provider": None,
                "status": None,
            },
            "billing_address_collection": spec.billing_address_collection,
            "cancel_url": spec.cancel_url,
            "client_reference_id": spec.client_reference_id,
            "client_secret": None,
            "collected_information": None,
            "consent": None,
            "consent_collection": None,
            "created": spec.created,
            "currency": spec.currency,
            "currency_conversion": None,
            "custom_fields": [],
            "custom_text": {
                "after_submit": None,
                "shipping_address": None,
                "submit": None,
                "terms_of_service_acceptance": None,
            },
            "customer": None,
            "customer_account": None,
            "customer_creation": spec.customer_creation or "if_required",
            "customer_details": None,
            "customer_email": spec.customer_email,
            "discounts": [],
            "expires_at": spec.expires_at,
            "integration_identifier": None,
            "invoice": None,
            "invoice_creation": _disabled_invoice_creation(session["invoice_creation"]),
            "livemode": False,
            "locale": spec.locale,
            "managed_payments": {"enabled": False},
            "metadata": dict(spec.metadata),
            "mode": spec.mode,
            "origin_context": None,
            "payment_intent": None,
            "payment_link": None,
            "payment_method_collection": "if_required",
            "payment_method_configuration_details": None,
            "payment_method_options": {},
            "payment_method_types": ["card"],
            "payment_status": "unpaid",
            "permissions": None,
            "phone_number_collection": {"enabled": False},
            "recovered_from": None,
            "saved_payment_method_options": None,
            "setup_intent": None,
            "shipping_address_collection": None,
            "shipping_cost": None,
            "shipping_options": [],
            "status": "open",
            "submit_type": spec.submit_type,
            "subscription": None,
            "success_url": spec.success_url,
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": spec.ui_mode,
            "url": f"https://checkout.stripe.com/c/pay/{id}#{fragment}",
            "wallet_options": None,
        }
    )
    return session


def _disabled_invoice_creation(example: dict[str, Any]) -> dict[str, Any]:
    invoice_data: dict[str, Any] = {key: None for key in example["invoice_data"]}
    invoice_data["metadata"] = {}
    return {"enabled": False, "invoice_data": invoice_data}


def completed_customer_details(email: str | None) -> dict[str, Any]:
    """What Checkout collects from a buyer who pays with a test card."""
    details: dict[str, Any] = fixture("checkout.session")["customer_details"]
    details.update(
        {
            "address": {
                "city": None,
                "country": "US",
                "line1": None,
                "line2": None,
                "postal_code": "94103",
                "state": None,
            },
            "email": email or "buyer@example.com",
            "name": "Jenny Rosen",
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        }
    )
    return details


def completed_collected_information() -> dict[str, Any]:
    information: dict[str, Any] = fixture("checkout.session")["collected_information"]
    return {key: None for key in information}


def build_line_item(item: LineItem, created: int) -> dict[str, Any]:
    line = fixture("item")
    price = copy.deepcopy(item.price) if item.price is not None else _session_price(item, created)
    line.update(
        {
            "id": new_id("li_"),
            "object": "item",
            "adjustable_quantity": item.adjustable_quantity,
            "amount_discount": 0,
            "amount_subtotal": item.amount,
            "amount_tax": 0,
            "amount_total": item.amount,
            "currency": item.currency,
            "description": item.name,
            "metadata": dict(item.metadata) if item.metadata else None,
            "price": price,
            "quantity": item.quantity,
        }
    )
    return line


def _session_price(item: LineItem, created: int) -> dict[str, Any]:
    """The Price Stripe makes from ``price_data``, for this one session."""
    price = fixture("price")
    price.update(
        {
            "id": new_id("price_"),
            # Prices made from price_data exist only for their session.
            "active": False,
            "created": created,
            "currency": item.currency,
            "custom_unit_amount": None,
            "lookup_key": None,
            "metadata": {},
            "nickname": None,
            "product": new_id("prod_", 14),
            "recurring": None,
            "tax_behavior": item.tax_behavior,
            "tiers_mode": None,
            "transform_quantity": None,
            "type": "one_time",
            "unit_amount": item.unit_amount,
            "unit_amount_decimal": _decimal_string(item),
        }
    )
    return price


def _decimal_string(item: LineItem) -> str:
    text = format(item.unit_amount_decimal, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def build_payment_intent(
    session: dict[str, Any], data: dict[str, Any], *, status: str, created: int
) -> dict[str, Any]:
    """The PaymentIntent Checkout creates when the buyer pays (``payment_intent_data``)."""
    intent = fixture("payment_intent")
    id = new_id("pi_")
    succeeded = status == "succeeded"
    intent.update(
        {
            "id": id,
            "object": "payment_intent",
            "amount": session["amount_total"],
            "amount_capturable": 0,
            "amount_received": session["amount_total"] if succeeded else 0,
            "automatic_payment_methods": None,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": data.get("capture_method", "automatic_async"),
            "client_secret": f"{id}_secret_{new_id('', 25)}",
            "confirmation_method": "automatic",
            "created": created,
            "currency": session["currency"],
            "customer": None,
            "customer_account": None,
            "description": data.get("description"),
            "excluded_payment_method_types": None,
            "last_payment_error": None,
            "latest_charge": new_id("ch_") if succeeded else None,
            "livemode": False,
            "managed_payments": {"enabled": False},
            "metadata": dict(data.get("metadata", {})),
            "next_action": None,
            "on_behalf_of": None,
            "payment_method": new_id("pm_"),
            "payment_method_configuration_details": None,
            "payment_method_options": {},
            "payment_method_types": ["card"],
            "processing": None,
            "receipt_email": data.get("receipt_email"),
            "review": None,
            "setup_future_usage": data.get("setup_future_usage"),
            "shipping": None,
            "source": None,
            "statement_descriptor": data.get("statement_descriptor"),
            "statement_descriptor_suffix": data.get("statement_descriptor_suffix"),
            "status": status,
            "transfer_data": None,
            "transfer_group": data.get("transfer_group"),
        }
    )
    return intent


def build_event(
    type: str,
    obj: dict[str, Any],
    *,
    api_version: str,
    created: int,
    request_id: str | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """An event envelope around a deep copy of ``obj``, as a webhook delivers it."""
    event = fixture("event")
    event.update(
        {
            "id": new_id("evt_"),
            "object": "event",
            "api_version": api_version,
            "created": created,
            "data": {"object": copy.deepcopy(obj)},
            "livemode": False,
            "pending_webhooks": 1,
            # Null for what the buyer did on the hosted page; the API request otherwise.
            "request": {"id": request_id, "idempotency_key": idempotency_key},
            "type": type,
        }
    )
    return event


def list_object(data: list[dict[str, Any]], url: str, *, has_more: bool) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}
