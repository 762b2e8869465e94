"""Stripe's error responses: ``{"error": {"type", "message", "code"?, "param"?, ...}}``."""

from __future__ import annotations

from typing import Any

__all__ = [
    "StripeError",
    "error_body",
    "invalid_request",
    "mask_key",
    "missing_param",
    "resource_missing",
]

DOCS_ERROR_CODES = "https://stripe.com/docs/error-codes/"


class StripeError(Exception):
    """Raised inside the emulator; turned into Stripe's JSON error body."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.param = param

    def body(self, request_id: str) -> dict[str, Any]:
        return error_body(
            self.type, self.message, code=self.code, param=self.param, request_id=request_id
        )


def error_body(
    type: str,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The body Stripe answers an error with; optional members only when they apply."""
    error: dict[str, Any] = {}
    if code is not None:
        error["code"] = code
        error["doc_url"] = DOCS_ERROR_CODES + code.replace("_", "-")
    error["message"] = message
    if param is not None:
        error["param"] = param
    if request_id is not None:
        error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
    error["type"] = type
    return {"error": error}


def invalid_request(message: str, param: str | None = None, code: str | None = None) -> StripeError:
    return StripeError(message, param=param, code=code)


def missing_param(param: str) -> StripeError:
    return StripeError(f"Missing required param: {param}.", param=param, code="parameter_missing")


def resource_missing(object_name: str, id: str, param: str) -> StripeError:
    return StripeError(
        f"No such {object_name}: '{id}'",
        status=404,
        param=param,
        code="resource_missing",
    )


def mask_key(key: str) -> str:
    """``sk_test_abcdef…wxyz`` -> ``sk_test_**********wxyz``: Stripe never echoes a key.

    The ``sk_test_``-style prefix and the last four characters stay visible, as
    in the real "Invalid API Key provided" message.
    """
    parts = key.split("_", 2)
    prefix = "_".join(parts[:2]) + "_" if len(parts) == 3 else ""
    secret = key[len(prefix) :]
    visible = secret[-4:] if len(secret) > 8 else ""
    return prefix + "*" * (len(secret) - len(visible)) + visible
