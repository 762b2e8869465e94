from decimal import Decimal

import pytest

from bot.money import Money, MoneyError, exponent, locale_for


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("397.00", "usd", 39700),
        ("397", "USD", 39700),
        ("0.1", "usd", 10),
        ("4800", "jpy", 4800),
        ("4800.0", "jpy", 4800),
        ("1.500", "kwd", 1500),
        ("1.25", "kwd", 1250),
        ("123456.78", "eur", 12345678),
        ("999999.99", "usd", 99_999_999),
        ("99999999", "jpy", 99_999_999),
        ("9999999999.99", "idr", 999_999_999_999),
        ("1." + "0" * 40, "usd", 100),
        ("1000", "isk", 100000),
    ],
)
def test_parse_is_exact_in_minor_units(text: str, currency: str, minor: int) -> None:
    money = Money.parse(text, currency)
    assert money.minor == minor
    assert money.currency == currency.lower()
    assert money.decimal == Decimal(text)


@pytest.mark.parametrize(
    ("text", "currency", "why"),
    [
        ("3000.5", "jpy", "more decimals than JPY allows"),
        ("1.001", "usd", "more decimals than USD allows"),
        ("1.505", "kwd", "end in 0"),
        ("1000.50", "isk", "whole units"),
        ("ten", "usd", "not a decimal number"),
        ("Infinity", "usd", "not a decimal number"),
        ("1000000", "usd", r"more than Stripe takes: at most 999999\.99 USD"),
        ("100000000", "jpy", "more than Stripe takes: at most 99999999 JPY"),
        ("100000", "kwd", r"more than Stripe takes: at most 99999\.990 KWD"),
        ("10000000000", "idr", r"at most 9999999999\.99 IDR"),
        ("1e30", "usd", "more than Stripe takes"),
        ("1e5000", "usd", "more than Stripe takes"),
        ("1e999999", "usd", "more than Stripe takes"),
        ("-1e999999999", "usd", "more than Stripe takes"),
        # 28 digits is all the default decimal context keeps: this is not a whole cent.
        ("1.000000000000000000000000000001", "usd", "more decimals than USD allows"),
        ("1e-999999", "usd", "more decimals than USD allows"),
    ],
)
def test_parse_refuses_what_does_not_fit(text: str, currency: str, why: str) -> None:
    with pytest.raises(MoneyError, match=why):
        Money.parse(text, currency)


@pytest.mark.parametrize("text", ["x" * 4000, "1." + "1" * 4000, "9" * 4000])
def test_a_refusal_quotes_a_long_text_cut(text: str) -> None:
    """The refusal is read in a chat reply, which Telegram limits to 4096 characters."""
    with pytest.raises(MoneyError) as caught:
        Money.parse(text, "usd")
    assert len(str(caught.value)) < 100


def test_exponents_follow_stripe() -> None:
    assert [exponent(code) for code in ("usd", "JPY", "kwd", "eur", "krw", "bhd")] == [
        2,
        0,
        3,
        2,
        0,
        3,
    ]


def test_format_uses_the_currency_digits_and_the_locale() -> None:
    assert Money(39700, "usd").format(locale_for("en")) == "$397.00"
    assert Money(300000, "jpy").format(locale_for("en")) == "¥300,000"
    assert Money(39700, "eur").format(locale_for("fr")) == "397,00\xa0€"
    assert Money(1500, "kwd").format(locale_for("en")).endswith("1.500")


def test_unknown_language_formats_in_english() -> None:
    assert locale_for("xx-nope") == locale_for(None) == locale_for("en")


def test_multiplying_keeps_the_currency() -> None:
    assert Money(1250, "usd") * 3 == Money(3750, "usd")


def test_currency_must_be_a_lower_case_code() -> None:
    with pytest.raises(MoneyError):
        Money(100, "USD")


def test_telegram_stars_are_whole_and_shown_with_a_star() -> None:
    assert exponent("XTR") == 0
    assert Money.parse("150", "xtr") == Money(150, "xtr")
    with pytest.raises(MoneyError, match="more decimals than XTR allows"):
        Money.parse("1.5", "xtr")
    assert Money(1500, "xtr").format(locale_for("en")) == "⭐\u00a01,500"
    assert Money(1500, "xtr").format(locale_for("fr")) == "⭐\u00a01\u202f500"
