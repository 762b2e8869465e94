"""A local emulator of the Stripe API over real HTTP, for tests and the offline demo.

Import it through :mod:`sandbox.stripe_api`.
"""

from .forms import decode_form
from .server import DEFAULT_API_VERSION, ApiRequest, Delivery, StripeEmulator

__all__ = ["DEFAULT_API_VERSION", "ApiRequest", "Delivery", "StripeEmulator", "decode_form"]
