"""A local emulator of the Stripe API over real HTTP, for tests and the offline demo.

Import it through :mod:`sandbox.stripe_api`.
"""

from .forms import decode_form
from .server import (
    DEFAULT_API_VERSION,
    DEFAULT_RETRY_DELAYS,
    ApiRequest,
    Delivery,
    PendingRetry,
    StripeEmulator,
)

__all__ = [
    "DEFAULT_API_VERSION",
    "DEFAULT_RETRY_DELAYS",
    "ApiRequest",
    "Delivery",
    "PendingRetry",
    "StripeEmulator",
    "decode_form",
]
