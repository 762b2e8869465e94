"""What Stripe knows about currencies: which it accepts, their exponents, minimums.

Source: https://docs.stripe.com/currencies (presentment currencies, zero- and
three-decimal currencies, "Minimum and maximum charge amounts").
"""

from __future__ import annotations

from decimal import Decimal

__all__ = [
    "MAX_AMOUNT",
    "MINIMUM_CHARGE",
    "SUPPORTED",
    "THREE_DECIMAL",
    "ZERO_DECIMAL",
    "exponent",
    "format_amount",
]

SUPPORTED: tuple[str, ...] = tuple(
    """
    usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd
    bwp byn bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp
    gel gip gmd gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw
    kwd kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad
    ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek
    sgd shp sle sos srd std szl thb tjs tnd top try ttd twd tzs uah ugx uyu uzs vnd vuv wst
    xaf xcd xcg xof xpf yer zar zmw
    """.split()
)

ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())

# Stripe supports them but requires the last digit of an amount to be 0.
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())

# In the currency's minor unit, for an account that settles in that currency.
MINIMUM_CHARGE: dict[str, int] = {
    "usd": 50,
    "aed": 200,
    "aud": 50,
    "bgn": 100,
    "brl": 50,
    "cad": 50,
    "chf": 50,
    "czk": 1500,
    "dkk": 250,
    "eur": 50,
    "gbp": 30,
    "hkd": 400,
    "huf": 17500,
    "inr": 50,
    "jpy": 50,
    "mxn": 1000,
    "myr": 200,
    "nok": 300,
    "nzd": 50,
    "pln": 200,
    "ron": 200,
    "sek": 300,
    "sgd": 50,
}

# "The amount value supports up to eight digits (e.g., a value of 99999999 for
# a USD charge of $999,999.99)."
MAX_AMOUNT = 99_999_999

_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}


def exponent(currency: str) -> int:
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def format_amount(amount: int, currency: str) -> str:
    """``(50, "usd")`` -> ``"$0.50 usd"``, the way Stripe's amount errors read."""
    places = exponent(currency)
    major = f"{Decimal(amount).scaleb(-places):.{places}f}"
    return f"{_SYMBOLS.get(currency, '')}{major} {currency}"
