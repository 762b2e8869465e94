"""``POST /v1/checkout/sessions``: the parameters, checked the way Stripe checks them.

Types and names first (unknown parameter, invalid integer, missing param),
then the business rules (one currency, minimum charge, the ``expires_at``
window), each answered with Stripe's wording and ``param`` where known.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from . import currencies
from .errors import StripeError, invalid_request, missing_param, resource_missing
from .params import (
    child,
    only_one_of,
    read_array,
    read_bool,
    read_decimal,
    read_email,
    read_enum,
    read_expand,
    read_hash,
    read_int,
    read_metadata,
    read_string,
    read_url,
    reject_unknown,
)

__all__ = ["Account", "CheckoutSpec", "LineItem", "parse_create", "ui_modes"]

T = TypeVar("T")
Reader = Callable[[Any, str], T]

# The create parameters of API version 2026-10-28.endive, as listed by
# stripe-python 16's SessionCreateParams (request options left out).
CREATE_PARAMS = frozenset(
    """
    adaptive_pricing after_expiration allow_promotion_codes allowed_payment_method_types
    automatic_tax billing_address_collection branding_settings cancel_url client_reference_id
    consent_collection currency custom_fields custom_text customer customer_account
    customer_creation customer_email customer_update discounts excluded_payment_method_types
    expand expires_at integration_identifier invoice_creation line_items locale
    managed_payments metadata mode name_collection optional_items origin_context
    payment_intent_data payment_method_collection payment_method_configuration
    payment_method_data payment_method_options permissions phone_number_collection
    redirect_on_completion return_url saved_payment_method_options setup_intent_data
    shipping_address_collection shipping_options submit_type subscription_data success_url
    tax_id_collection ui_mode wallet_options
    """.split()
)
LINE_ITEM_PARAMS = frozenset(
    "adjustable_quantity metadata price price_data quantity tax_rates".split()
)
PRICE_DATA_PARAMS = frozenset(
    "currency product product_data recurring tax_behavior unit_amount unit_amount_decimal".split()
)
PRODUCT_DATA_PARAMS = frozenset(
    "description images metadata name tax_code tax_details unit_label".split()
)
ADJUSTABLE_QUANTITY_PARAMS = frozenset("enabled maximum minimum".split())
PAYMENT_INTENT_DATA_PARAMS = frozenset(
    """
    application_fee_amount capture_method description metadata on_behalf_of receipt_email
    setup_future_usage shipping statement_descriptor statement_descriptor_suffix
    transfer_data transfer_group
    """.split()
)

MODES = ("payment", "setup", "subscription")
LOCALES = tuple(
    """
    auto bg cs da de el en en-GB es es-419 et fi fil fr fr-CA hi-IN hr hu id it ja ko lt lv
    ms mt nb nl pl pt pt-BR ro ru sk sl sv th tr vi zh zh-HK zh-TW
    """.split()
)
SUBMIT_TYPES = ("auto", "book", "donate", "pay", "subscribe")

# 2026-03-25.dahlia renamed hosted/embedded/custom to hosted_page/embedded_page/elements.
UI_MODES_RENAMED_IN = "2026-03-25"
UI_MODES = ("elements", "embedded_page", "form", "hosted_page")
LEGACY_UI_MODES = ("custom", "embedded", "hosted")

MIN_LIFETIME = 30 * 60
MAX_LIFETIME = 24 * 60 * 60
MAX_LINE_ITEMS = 100
MAX_QUANTITY = 999_999
MAX_IMAGES = 8
CLIENT_REFERENCE_ID_MAX_LENGTH = 200


@dataclass(frozen=True)
class LineItem:
    name: str
    quantity: int
    currency: str
    unit_amount: int | None
    unit_amount_decimal: Decimal
    amount: int
    description: str | None = None
    images: tuple[str, ...] = ()
    product_metadata: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    tax_behavior: str = "unspecified"
    adjustable_quantity: dict[str, Any] | None = None
    # The account's Price object when the line named one by id (``price``), else None.
    price: dict[str, Any] | None = None


@dataclass(frozen=True)
class Account:
    """The Products and Prices kept in the account, which ``line_items[][price]`` may name."""

    products: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    prices: Mapping[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Product:
    name: str
    description: str | None
    images: tuple[str, ...]
    metadata: dict[str, str]


@dataclass(frozen=True)
class _Price:
    currency: str
    unit_amount: int | None
    unit_amount_decimal: Decimal
    product: _Product
    tax_behavior: str


@dataclass(frozen=True)
class CheckoutSpec:
    """A validated create request: everything needed to build the session."""

    mode: str
    ui_mode: str
    currency: str
    line_items: tuple[LineItem, ...]
    amount_total: int
    created: int
    expires_at: int
    success_url: str | None = None
    cancel_url: str | None = None
    client_reference_id: str | None = None
    customer_email: str | None = None
    locale: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    payment_intent_data: dict[str, Any] = field(default_factory=dict)
    allow_promotion_codes: bool | None = None
    submit_type: str | None = None
    billing_address_collection: str | None = None
    customer_creation: str | None = None
    expand: tuple[str, ...] = ()


def ui_modes(api_version: str) -> tuple[tuple[str, ...], str]:
    """The ``ui_mode`` values an API version accepts, and its default."""
    if api_version[:10] >= UI_MODES_RENAMED_IN:
        return UI_MODES, "hosted_page"
    return LEGACY_UI_MODES, "hosted"


def parse_create(
    params: dict[str, Any], *, now: int, api_version: str, account: Account | None = None
) -> CheckoutSpec:
    reject_unknown(params, CREATE_PARAMS)

    if "mode" not in params:
        raise missing_param("mode")
    mode = read_enum(params["mode"], "mode", MODES)
    if mode != "payment":
        raise invalid_request(
            f"The Stripe emulator only implements `payment` mode, not `{mode}`.", "mode"
        )
    choices, default_ui_mode = ui_modes(api_version)
    ui_mode = read_enum(params.get("ui_mode", default_ui_mode), "ui_mode", choices)
    hosted = ui_mode == default_ui_mode

    # Each parameter on its own first ...
    line_items = _line_items(params, account or Account())
    only_one_of(params, ("customer", "customer_email"))
    only_one_of(params, ("allow_promotion_codes", "discounts"))
    if "customer" in params:
        customer = read_string(params["customer"], "customer")
        raise resource_missing("customer", customer, "customer")
    spec = CheckoutSpec(
        mode=mode,
        ui_mode=ui_mode,
        currency=line_items[0].currency,
        line_items=line_items,
        amount_total=sum(item.amount for item in line_items),
        created=now,
        expires_at=_expires_at(params, now),
        success_url=_redirect_url(params, "success_url", hosted, ui_mode),
        cancel_url=_redirect_url(params, "cancel_url", hosted, ui_mode),
        client_reference_id=_optional(
            params,
            "client_reference_id",
            lambda value, name: read_string(value, name, max_length=CLIENT_REFERENCE_ID_MAX_LENGTH),
        ),
        customer_email=_optional(params, "customer_email", read_email),
        locale=_optional(params, "locale", lambda v, n: read_enum(v, n, LOCALES)),
        metadata=read_metadata(params.get("metadata", ""), "metadata"),
        payment_intent_data=_payment_intent_data(params.get("payment_intent_data", "")),
        allow_promotion_codes=_optional(params, "allow_promotion_codes", read_bool),
        submit_type=_optional(params, "submit_type", lambda v, n: read_enum(v, n, SUBMIT_TYPES)),
        billing_address_collection=_optional(
            params,
            "billing_address_collection",
            lambda v, n: read_enum(v, n, ("auto", "required")),
        ),
        customer_creation=_optional(
            params, "customer_creation", lambda v, n: read_enum(v, n, ("always", "if_required"))
        ),
        expand=tuple(read_expand(params)),
    )
    # ... then the rules about the session as a whole.
    _one_currency(line_items, params)
    _check_total(spec.amount_total, spec.currency)
    _check_lifetime(spec.expires_at, now)
    return spec


def _optional(params: dict[str, Any], name: str, reader: Reader[T]) -> T | None:
    return reader(params[name], name) if name in params else None


# -- line items ---------------------------------------------------------------


def _line_items(params: dict[str, Any], account: Account) -> tuple[LineItem, ...]:
    if "line_items" not in params:
        raise missing_param("line_items")
    raw = read_array(params["line_items"], "line_items")
    if not raw:
        raise missing_param("line_items")
    if len(raw) > MAX_LINE_ITEMS:
        raise invalid_request(
            f"You can't have more than {MAX_LINE_ITEMS} line items in `payment` mode.",
            "line_items",
        )
    return tuple(
        _line_item(item, child("line_items", index), account) for index, item in enumerate(raw)
    )


def _line_item(raw: Any, param: str, account: Account) -> LineItem:
    item = read_hash(raw, param)
    reject_unknown(item, LINE_ITEM_PARAMS, param)
    only_one_of(item, ("price", "price_data"), param)
    if "price" not in item and "price_data" not in item:
        raise invalid_request(
            "You must specify either `price` or `price_data` for each line item.", param
        )
    stored = (
        _stored_price(item["price"], child(param, "price"), account) if "price" in item else None
    )
    if "quantity" not in item:
        raise missing_param(child(param, "quantity"))
    quantity = read_int(item["quantity"], child(param, "quantity"), minimum=1, maximum=MAX_QUANTITY)
    if item.get("tax_rates"):
        rates = read_array(item["tax_rates"], child(param, "tax_rates"))
        rate = read_string(rates[0], child(child(param, "tax_rates"), 0))
        raise resource_missing("tax_rate", rate, child(child(param, "tax_rates"), 0))

    if stored is not None:
        price = _price_of(stored, account)
    else:
        price = _price_data(item["price_data"], child(param, "price_data"))
    unit_amount = price.unit_amount
    if price.currency in currencies.THREE_DECIMAL and unit_amount is not None and unit_amount % 10:
        raise invalid_request(
            f"Invalid amount: {price.currency} is a three-decimal currency, so the last digit "
            f"of the amount must be 0 (round to the nearest ten). Got {unit_amount}.",
            child(child(param, "price_data"), "unit_amount"),
        )
    amount = price.unit_amount_decimal * quantity
    return LineItem(
        name=price.product.name,
        description=price.product.description,
        images=price.product.images,
        product_metadata=price.product.metadata,
        quantity=quantity,
        currency=price.currency,
        unit_amount=unit_amount,
        unit_amount_decimal=price.unit_amount_decimal,
        amount=int(amount.to_integral_value(rounding=ROUND_HALF_UP)),
        metadata=read_metadata(item.get("metadata", ""), child(param, "metadata")),
        tax_behavior=price.tax_behavior,
        adjustable_quantity=_adjustable_quantity(item, param),
        price=copy.deepcopy(stored) if stored is not None else None,
    )


def _stored_price(value: Any, param: str, account: Account) -> dict[str, Any]:
    """The account's Price a line names; Checkout takes only active prices of active products."""
    price_id = read_string(value, param)
    price = account.prices.get(price_id)
    if price is None:
        raise resource_missing("price", price_id, param)
    if not price["active"]:
        raise invalid_request(
            "The price specified is inactive. This field only accepts active prices.", param
        )
    if not account.products[price["product"]]["active"]:
        # Stripe refuses these too; this wording is the emulator's own.
        raise invalid_request(
            "The price specified belongs to an inactive product. This field only accepts "
            "prices of active products.",
            param,
        )
    if price["type"] != "one_time":
        raise invalid_request(
            "You specified `payment` mode but passed a recurring price. Either switch to "
            "`subscription` mode or use only one-time prices.",
            param,
        )
    return price


def _price_of(price: dict[str, Any], account: Account) -> _Price:
    product = account.products[price["product"]]
    return _Price(
        currency=price["currency"],
        unit_amount=price["unit_amount"],
        unit_amount_decimal=Decimal(price["unit_amount_decimal"]),
        product=_Product(
            name=product["name"],
            description=product["description"],
            images=tuple(product["images"]),
            metadata=dict(product["metadata"]),
        ),
        tax_behavior=price["tax_behavior"],
    )


def _price_data(raw: Any, param: str) -> _Price:
    data = read_hash(raw, param)
    reject_unknown(data, PRICE_DATA_PARAMS, param)
    if "currency" not in data:
        raise missing_param(child(param, "currency"))
    currency = _currency(data["currency"], child(param, "currency"))

    only_one_of(data, ("unit_amount", "unit_amount_decimal"), param)
    unit_amount: int | None = None
    if "unit_amount" in data:
        unit_amount = read_int(
            data["unit_amount"],
            child(param, "unit_amount"),
            minimum=0,
            maximum=currencies.MAX_AMOUNT,
        )
        decimal = Decimal(unit_amount)
    elif "unit_amount_decimal" in data:
        decimal = read_decimal(data["unit_amount_decimal"], child(param, "unit_amount_decimal"))
        if decimal < 0:
            raise invalid_request(
                "This value must be greater than or equal to 0.",
                child(param, "unit_amount_decimal"),
            )
    else:
        raise missing_param(child(param, "unit_amount"))

    if "recurring" in data:
        raise invalid_request(
            "You specified `payment` mode but passed a recurring price. Either switch to "
            "`subscription` mode or use only one-time prices.",
            child(param, "recurring"),
        )

    only_one_of(data, ("product", "product_data"), param)
    if "product" in data:
        product_id = read_string(data["product"], child(param, "product"))
        raise resource_missing("product", product_id, child(param, "product"))
    if "product_data" not in data:
        raise missing_param(child(param, "product_data"))

    tax_behavior = "unspecified"
    if "tax_behavior" in data:
        tax_behavior = read_enum(
            data["tax_behavior"],
            child(param, "tax_behavior"),
            ("exclusive", "inclusive", "unspecified"),
        )
    return _Price(
        currency=currency,
        unit_amount=unit_amount,
        unit_amount_decimal=decimal,
        product=_product_data(data["product_data"], child(param, "product_data")),
        tax_behavior=tax_behavior,
    )


def _product_data(raw: Any, param: str) -> _Product:
    data = read_hash(raw, param)
    reject_unknown(data, PRODUCT_DATA_PARAMS, param)
    if "name" not in data:
        raise missing_param(child(param, "name"))
    images = read_array(data.get("images", ""), child(param, "images"))
    if len(images) > MAX_IMAGES:
        raise invalid_request(
            f"Invalid array: images must have at most {MAX_IMAGES} items.",
            child(param, "images"),
        )
    return _Product(
        name=read_string(data["name"], child(param, "name")),
        description=_optional(data, "description", read_string),
        images=tuple(
            read_url(image, child(child(param, "images"), index))
            for index, image in enumerate(images)
        ),
        metadata=read_metadata(data.get("metadata", ""), child(param, "metadata")),
    )


def _adjustable_quantity(item: dict[str, Any], param: str) -> dict[str, Any] | None:
    if "adjustable_quantity" not in item:
        return None
    param = child(param, "adjustable_quantity")
    data = read_hash(item["adjustable_quantity"], param)
    reject_unknown(data, ADJUSTABLE_QUANTITY_PARAMS, param)
    if "enabled" not in data:
        raise missing_param(child(param, "enabled"))
    result: dict[str, Any] = {
        "enabled": read_bool(data["enabled"], child(param, "enabled")),
        "maximum": None,
        "minimum": None,
    }
    for bound in ("minimum", "maximum"):
        if bound in data:
            result[bound] = read_int(
                data[bound], child(param, bound), minimum=0, maximum=MAX_QUANTITY
            )
    return result


def _currency(value: Any, param: str) -> str:
    currency = read_string(value, param)
    if currency not in currencies.SUPPORTED:
        # Stripe documents lowercase ISO codes; the catalog may say "USD".
        raise invalid_request(
            f"Invalid currency: {currency}. Stripe currently supports these currencies: "
            + ", ".join(currencies.SUPPORTED),
            param,
        )
    return currency


def _one_currency(items: tuple[LineItem, ...], params: dict[str, Any]) -> None:
    currency = items[0].currency
    for index, item in enumerate(items):
        if item.currency != currency:
            raise invalid_request(
                "All line items must have the same currency: line_items[0] is in "
                f"{currency} and line_items[{index}] is in {item.currency}.",
                # A stored Price brings its currency: Stripe names the line's price then.
                f"line_items[{index}][price]"
                if item.price is not None
                else f"line_items[{index}][price_data][currency]",
            )
    if "currency" in params and _currency(params["currency"], "currency") != currency:
        raise invalid_request(
            f"The currency {params['currency']} does not match the line items' currency "
            f"{currency}.",
            "currency",
        )


def _check_total(amount: int, currency: str) -> None:
    minimum = currencies.MINIMUM_CHARGE.get(currency, 1)
    if amount < minimum:
        raise StripeError(
            "The Checkout Session's total amount due must add up to at least "
            f"{currencies.format_amount(minimum, currency)}",
            param="line_items",
            code="amount_too_small",
        )
    if amount > currencies.MAX_AMOUNT:
        raise StripeError(
            "The Checkout Session's total amount due must be no more than "
            f"{currencies.format_amount(currencies.MAX_AMOUNT, currency)}",
            param="line_items",
            code="amount_too_large",
        )
    if currency in currencies.THREE_DECIMAL and amount % 10:
        raise invalid_request(
            f"Invalid amount: {currency} is a three-decimal currency, so the last digit of the "
            f"total amount must be 0 (round to the nearest ten). Got {amount}.",
            "line_items",
        )


# -- the rest -------------------------------------------------------------------


def _redirect_url(params: dict[str, Any], name: str, hosted: bool, ui_mode: str) -> str | None:
    if name not in params:
        return None
    if not hosted:
        raise invalid_request(f"You cannot pass `{name}` when `ui_mode` is `{ui_mode}`.", name)
    return read_url(params[name], name)


def _expires_at(params: dict[str, Any], now: int) -> int:
    if "expires_at" not in params:
        return now + MAX_LIFETIME
    return read_int(params["expires_at"], "expires_at")


def _check_lifetime(expires_at: int, now: int) -> None:
    if expires_at - now < MIN_LIFETIME:
        raise invalid_request(
            "The `expires_at` timestamp must be at least 30 minutes from Checkout Session "
            "creation.",
            "expires_at",
        )
    if expires_at - now > MAX_LIFETIME:
        raise invalid_request(
            "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
            "expires_at",
        )


def _payment_intent_data(raw: Any) -> dict[str, Any]:
    param = "payment_intent_data"
    data = read_hash(raw, param)
    reject_unknown(data, PAYMENT_INTENT_DATA_PARAMS, param)
    result: dict[str, Any] = {
        "metadata": read_metadata(data.get("metadata", ""), child(param, "metadata"))
    }
    readers: dict[str, Reader[object]] = {
        "description": lambda v, n: read_string(v, n, max_length=1000),
        "receipt_email": read_email,
        "capture_method": lambda v, n: read_enum(v, n, ("automatic", "automatic_async", "manual")),
        "setup_future_usage": lambda v, n: read_enum(v, n, ("off_session", "on_session")),
        "statement_descriptor": lambda v, n: read_string(v, n, max_length=22),
        "statement_descriptor_suffix": lambda v, n: read_string(v, n, max_length=22),
        "transfer_group": read_string,
    }
    for name, reader in readers.items():
        if name in data:
            result[name] = reader(data[name], child(param, name))
    return result
