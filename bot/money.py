"""Money: an integer amount in the currency's minor unit, and the one place that formats it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal, InvalidOperation

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, format_decimal

# Stripe's own list (docs.stripe.com/currencies): these differ from the default of two decimals.
ZERO_DECIMAL_CURRENCIES = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)
THREE_DECIMAL_CURRENCIES = frozenset("bhd jod kwd omr tnd".split())
# Stripe takes these with two decimals but charges whole units only.
WHOLE_UNIT_TWO_DECIMAL_CURRENCIES = frozenset({"isk"})

# Telegram Stars, the currency of payments inside Telegram: whole Stars, no minor unit.
STARS = "xtr"
STAR_SIGN = "⭐"

# Stripe takes amounts of at most 8 digits in the minor unit ($999,999.99), 12 in IDR.
MOST_MINOR = 99_999_999
MOST_MINOR_IN = {"idr": 999_999_999_999}
# Arithmetic on what an owner typed, never rounded: the default context keeps 28 digits, and
# would make 1.000000000000000000000000000001 dollars a whole 100 cents.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
# What an error quotes of the text it refuses, which may be thousands of characters long.
QUOTED_MOST = 32

DEFAULT_LOCALE = Locale("en")


class MoneyError(ValueError):
    """An amount that does not fit its currency."""


def exponent(currency: str) -> int:
    """How many decimals the currency's minor unit has (Stripe's list; Stars have none)."""
    code = currency.lower()
    if code in ZERO_DECIMAL_CURRENCIES or code == STARS:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def most_minor(currency: str) -> int:
    """The largest amount Stripe takes in this currency, in its minor unit (ending in 0 where
    Stripe wants three-decimal amounts to)."""
    most = MOST_MINOR_IN.get(currency.lower(), MOST_MINOR)
    return most - most % 10 if currency.lower() in THREE_DECIMAL_CURRENCIES else most


def _shown(text: str) -> str:
    text = text.strip()
    return text if len(text) <= QUOTED_MOST else text[: QUOTED_MOST - 1] + "…"


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
        """Convert a decimal string in major units ("397.00") exactly, refusing what cannot fit
        or what Stripe would not take."""
        code = currency.strip().lower()
        shown = _shown(text)
        try:
            value = Decimal(text.strip())
        except InvalidOperation:
            raise MoneyError(f"{shown!r} is not a decimal number") from None
        if not value.is_finite():
            raise MoneyError(f"{shown!r} is not a decimal number")
        digits = exponent(code)
        most = most_minor(code)
        # By the exponent alone, before any arithmetic (1e999999 would overflow, and 1e5000 is
        # past the digits int() converts); exact, as the largest amounts are all nines.
        if value and value.adjusted() + digits >= len(str(most)):
            largest = f"{cls(most, code).decimal} {code.upper()}"
            raise MoneyError(f"{shown} is more than Stripe takes: at most {largest}")
        minor = value.scaleb(digits, context=_EXACT)
        if minor != minor.to_integral_value(context=_EXACT):
            raise MoneyError(f"{shown} has more decimals than {code.upper()} allows ({digits})")
        money = cls(int(minor), code)
        if code in THREE_DECIMAL_CURRENCIES and money.minor % 10:
            raise MoneyError(f"{shown}: Stripe needs {code.upper()} amounts to end in 0")
        if code in WHOLE_UNIT_TWO_DECIMAL_CURRENCIES and money.minor % 100:
            raise MoneyError(f"{shown}: Stripe charges {code.upper()} in whole units only")
        return money

    @property
    def decimal(self) -> Decimal:
        """The amount in major units, exact."""
        return Decimal(self.minor).scaleb(-exponent(self.currency))

    def __mul__(self, quantity: int) -> Money:
        return Money(self.minor * quantity, self.currency)

    def format(self, locale: Locale = DEFAULT_LOCALE) -> str:
        """The amount as a person reads it in `locale`: "$397.00", "397,00 $US", "¥3,000",
        "⭐ 150" (Stars, which no locale names)."""
        if self.currency == STARS:
            return f"{STAR_SIGN}\u00a0{format_decimal(self.decimal, locale=locale)}"
        return format_currency(self.decimal, self.currency.upper(), locale=locale)


def locale_for(language_code: str | None) -> Locale:
    """The Babel locale for a Telegram `language_code` ("en", "pt-br"), English when unknown."""
    if not language_code:
        return DEFAULT_LOCALE
    try:
        return Locale.parse(language_code.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return DEFAULT_LOCALE
