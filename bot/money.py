"""Money: an integer amount in the currency's minor unit, and the one place that formats it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency

# Stripe's own list (docs.stripe.com/currencies): these differ from the default of two decimals.
ZERO_DECIMAL_CURRENCIES = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)
THREE_DECIMAL_CURRENCIES = frozenset("bhd jod kwd omr tnd".split())
# Stripe takes these with two decimals but charges whole units only.
WHOLE_UNIT_TWO_DECIMAL_CURRENCIES = frozenset({"isk"})

DEFAULT_LOCALE = Locale("en")


class MoneyError(ValueError):
    """An amount that does not fit its currency."""


def exponent(currency: str) -> int:
    """How many decimals Stripe's minor unit has for this currency."""
    code = currency.lower()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


@dataclass(frozen=True, order=True, slots=True)
class Money:
    """An exact amount: `minor` units of `currency` (lower-case ISO 4217, as Stripe writes it)."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.islower():
            raise MoneyError(f"currency must be three lower-case letters, got {self.currency!r}")

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """Convert a decimal string in major units ("397.00") exactly, refusing what cannot fit."""
        code = currency.strip().lower()
        try:
            value = Decimal(text.strip())
        except InvalidOperation:
            raise MoneyError(f"{text!r} is not a decimal number") from None
        if not value.is_finite():
            raise MoneyError(f"{text!r} is not a decimal number")
        digits = exponent(code)
        minor = value.scaleb(digits)
        if minor != minor.to_integral_value():
            raise MoneyError(f"{text} has more decimals than {code.upper()} allows ({digits})")
        money = cls(int(minor), code)
        if code in THREE_DECIMAL_CURRENCIES and money.minor % 10:
            raise MoneyError(f"{text}: Stripe needs {code.upper()} amounts to end in 0")
        if code in WHOLE_UNIT_TWO_DECIMAL_CURRENCIES and money.minor % 100:
            raise MoneyError(f"{text}: Stripe charges {code.upper()} in whole units only")
        return money

    @property
    def decimal(self) -> Decimal:
        """The amount in major units, exact."""
        return Decimal(self.minor).scaleb(-exponent(self.currency))

    def __mul__(self, quantity: int) -> Money:
        return Money(self.minor * quantity, self.currency)

    def format(self, locale: Locale = DEFAULT_LOCALE) -> str:
        """The amount as a person reads it in `locale`: "$397.00", "397,00 $US", "¥3,000"."""
        return format_currency(self.decimal, self.currency.upper(), locale=locale)


def locale_for(language_code: str | None) -> Locale:
    """The Babel locale for a Telegram `language_code` ("en", "pt-br"), English when unknown."""
    if not language_code:
        return DEFAULT_LOCALE
    try:
        return Locale.parse(language_code.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return DEFAULT_LOCALE
