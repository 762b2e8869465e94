"""Failures of the API that a test turns on: one-off errors, rate limiting, outages.

- ``fail_next``: the next requests get a chosen Stripe error.
- Rate limiting: Stripe's basic rate limiter allows 100 requests per second in
  live mode and 25 in a sandbox (docs.stripe.com/rate-limits). A request over
  the limit gets ``429`` with the error Stripe sends (``invalid_request_error``,
  code ``rate_limit``) and the header ``Stripe-Rate-Limited-Reason:
  global-rate``; Stripe sends no ``Retry-After``. Requests are counted per
  whole second of the emulator's clock, so a test that freezes the clock
  decides exactly which requests share a second.
- Outages: during a Stripe incident the API either answers ``500`` with an
  ``api_error`` ("An unknown error occurred"), which stripe-python retries, or
  does not answer at all (``"unreachable"``: the connection is dropped before
  any HTTP answer, which stripe-python reports as an ``APIConnectionError``).
  A network that fails on the way back (``"answer_lost"``) lets each request
  do its work at Stripe, then drops the connection before the answer: the
  client cannot tell it from ``"unreachable"``, but what it asked for is done
  (and kept under its idempotency key).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .errors import StripeError

__all__ = ["OUTAGE_KINDS", "RATE_LIMIT_MESSAGE", "Dropped", "Failure", "Faults"]

OUTAGE_KINDS = ("api_error", "unreachable", "answer_lost")
RATE_LIMIT_MESSAGE = (
    "Too many requests hit the API too quickly. We recommend an exponential backoff of your "
    "requests."
)
UNKNOWN_ERROR = "An unknown error occurred"


@dataclass(frozen=True)
class Failure:
    error: StripeError
    headers: dict[str, str]


class Dropped(Exception):
    """The connection is closed without an answer."""


class Faults:
    def __init__(self, rate_limit_per_second: int | None) -> None:
        self.rate_limit_per_second = rate_limit_per_second
        self.outage_kind: str | None = None
        self._queued: deque[Failure] = deque()
        self._second = -1
        self._count = 0

    def fail_next(
        self,
        count: int,
        *,
        status: int,
        error_type: str,
        message: str,
        should_retry: bool | None,
        code: str | None,
    ) -> None:
        if status == 429 and error_type == "api_error" and code is None:
            error_type, code = "invalid_request_error", "rate_limit"
            if message == UNKNOWN_ERROR:
                message = RATE_LIMIT_MESSAGE
        error = StripeError(message, status=status, type=error_type, code=code)
        headers = {} if should_retry is None else {"Stripe-Should-Retry": str(should_retry).lower()}
        self._queued.extend(Failure(error, headers) for _ in range(count))

    def start_outage(self, kind: str) -> None:
        if kind not in OUTAGE_KINDS:
            raise ValueError(f"outage kind must be one of {OUTAGE_KINDS}, not {kind!r}")
        self.outage_kind = kind

    @property
    def loses_answers(self) -> bool:
        """Whether requests are carried out and their answers then dropped."""
        return self.outage_kind == "answer_lost"

    def check(self, now: float) -> Failure | None:
        """The failure this request meets, if any; raises :class:`Dropped` for no answer."""
        if self.outage_kind == "unreachable":
            raise Dropped
        if self.outage_kind == "api_error":
            return Failure(StripeError(UNKNOWN_ERROR, status=500, type="api_error"), {})
        if self._queued:
            return self._queued.popleft()
        return self._rate_limited(int(now))

    def _rate_limited(self, second: int) -> Failure | None:
        if self.rate_limit_per_second is None:
            return None
        if second != self._second:
            self._second, self._count = second, 0
        if self._count >= self.rate_limit_per_second:
            error = StripeError(
                RATE_LIMIT_MESSAGE, status=429, type="invalid_request_error", code="rate_limit"
            )
            return Failure(error, {"Stripe-Rate-Limited-Reason": "global-rate"})
        self._count += 1
        return None
