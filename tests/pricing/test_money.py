"""Money rounding and formatting: what a customer sees on an invoice."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel.numbers import get_currency_precision, get_currency_symbol
from hypothesis import given
from hypothesis import strategies as st

from pricing.money import (
    CURRENCIES,
    DEFAULT_LOCALE,
    format_money,
    format_quantity,
    format_unit_price,
    in_minor_units,
    minor_unit_exponent,
    round_money,
)

D = Decimal


# --- round_money ---------------------------------------------------------------------------


def test_half_a_cent_rounds_up() -> None:
    # Banker's rounding (half-even) would give 0.12; the pricing rule is half-up.
    assert round_money(D("0.125"), "USD") == D("0.13")


def test_half_a_yen_rounds_up_to_a_whole_yen() -> None:
    # Half-even would give 2.
    assert round_money(D("2.5"), "JPY") == D("3")


def test_half_a_fils_rounds_up_to_three_places() -> None:
    # Kuwaiti dinar has three decimals: 0.0005 is half of the smallest unit.
    assert round_money(D("0.0005"), "KWD") == D("0.001")


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("0.005", "USD", "0.01"),
        ("0.004999", "USD", "0.00"),
        ("0.135", "USD", "0.14"),
        ("0.145", "USD", "0.15"),
        ("10", "USD", "10.00"),
        ("1234.5649", "EUR", "1234.56"),
        ("3.5", "JPY", "4"),
        ("2.4999", "JPY", "2"),
        ("0.4", "JPY", "0"),
        ("1.2345", "KWD", "1.235"),
        ("0.0004999", "KWD", "0.000"),
        ("1.0015", "BHD", "1.002"),
        ("0.5", "KRW", "1"),
        ("0.125", "usd", "0.13"),
        ("2.5", "jpy", "3"),
        ("0.125", "XYZ", "0.13"),
    ],
)
def test_amounts_round_half_up_to_the_currency_minor_unit(
    amount: str, currency: str, expected: str
) -> None:
    rounded = round_money(D(amount), currency)
    # Same value AND same number of decimals (so "10" is stored and shown as 10.00).
    assert str(rounded) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [("-0.125", "USD", "-0.13"), ("-2.5", "JPY", "-3"), ("-0.0005", "KWD", "-0.001")],
)
def test_credits_round_symmetrically_to_charges(amount: str, currency: str, expected: str) -> None:
    assert str(round_money(D(amount), currency)) == expected


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [
        ("USD", 2),
        ("EUR", 2),
        ("GBP", 2),
        ("INR", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("CLP", 0),
        ("KWD", 3),
        ("BHD", 3),
        ("OMR", 3),
        ("jpy", 0),
        ("kwd", 3),
        ("XYZ", 2),
    ],
)
def test_minor_unit_follows_iso_4217(currency: str, exponent: int) -> None:
    assert minor_unit_exponent(currency) == exponent


@pytest.mark.parametrize("not_decimal", [0.1, 0.125, 1.0])
def test_round_money_rejects_a_float(not_decimal: float) -> None:
    with pytest.raises(TypeError, match="Decimal"):
        round_money(not_decimal, "USD")  # type: ignore[arg-type]


def test_round_money_rejects_an_int() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        round_money(1, "USD")  # type: ignore[arg-type]


# --- format_money --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("1234.5", "USD", "$1,234.50"),
        ("0.1", "USD", "$0.10"),
        ("0", "USD", "$0.00"),
        ("-0.10", "USD", "-$0.10"),
        ("-1234.5", "USD", "-$1,234.50"),
        ("1000000", "EUR", "€1,000,000.00"),
        ("7.5", "GBP", "£7.50"),
        ("5", "CHF", "CHF\u00a05.00"),
        ("1234.5", "JPY", "¥1,235"),
        ("-1234", "JPY", "-¥1,234"),
        ("1234567.891", "KWD", "KWD\u00a01,234,567.891"),
        ("0.0005", "KWD", "KWD\u00a00.001"),
        ("12.5", "XYZ", "XYZ\u00a012.50"),
        ("-3", "xyz", "-XYZ\u00a03.00"),
        ("12.5", "usd", "$12.50"),
    ],
)
def test_format_money_shows_symbol_grouping_and_minor_unit(
    amount: str, currency: str, expected: str
) -> None:
    assert format_money(D(amount), currency) == expected


def test_amount_that_rounds_to_zero_is_not_shown_as_negative_zero() -> None:
    assert format_money(D("-0.001"), "USD") == "$0.00"


def test_babel_writes_every_plan_currency_at_the_minor_unit_we_round_to() -> None:
    # Babel (CLDR) and our rounding agree on each currency's decimals, so the
    # text never shows a digit more or less than the rounded amount has.
    assert {c: get_currency_precision(c) for c in CURRENCIES} == {
        c: minor_unit_exponent(c) for c in CURRENCIES
    }


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [("0.125", "USD", "$0.13"), ("0.135", "USD", "$0.14"), ("2.5", "JPY", "¥3")],
)
def test_money_is_rounded_half_up_by_our_rule_not_babels_half_even(
    amount: str, currency: str, expected: str
) -> None:
    assert format_money(D(amount), currency) == expected


@pytest.mark.parametrize(
    ("locale", "amount", "currency", "expected"),
    [
        ("en_US", "1234.56", "USD", "$1,234.56"),
        ("de_DE", "1234.56", "EUR", "1.234,56\u00a0€"),
        ("ja_JP", "1234", "JPY", "￥1,234"),
        ("fr_CH", "1234.5", "CHF", "1'234,50\u00a0CHF"),
    ],
)
def test_money_is_written_as_the_locale_writes_it(
    locale: str, amount: str, currency: str, expected: str
) -> None:
    assert format_money(D(amount), currency, locale) == expected


# --- format_unit_price ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "currency", "expected"),
    [
        ("0.01", "USD", "$0.01"),
        ("0.00001", "USD", "$0.00001"),
        ("0.000005", "USD", "$0.000005"),
        ("2.5", "USD", "$2.50"),
        ("2.50000", "USD", "$2.50"),
        ("100", "USD", "$100.00"),
        ("1234.5", "USD", "$1,234.50"),
        ("0.000000000001", "USD", "$0.000000000001"),
        ("0.000000000000123456", "USD", "$0.000000000000123456"),
        ("3", "JPY", "¥3"),
        ("0.5", "JPY", "¥0.5"),
        ("0.1", "KWD", "KWD\u00a00.100"),
        ("0.0001", "KWD", "KWD\u00a00.0001"),
        ("-0.00001", "EUR", "-€0.00001"),
        ("0.00001", "XYZ", "XYZ\u00a00.00001"),
    ],
)
def test_unit_price_keeps_every_significant_digit(price: str, currency: str, expected: str) -> None:
    assert format_unit_price(D(price), currency) == expected


def test_a_twelve_decimal_unit_price_is_not_rounded_to_zero() -> None:
    assert format_unit_price(D("0.000000000001"), "USD") != "$0.00"
    assert format_unit_price(D("0.000000000001"), "USD").endswith("000000000001")


# --- format_quantity -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("1000", "1,000"),
        ("1E+3", "1,000"),
        ("1000.000", "1,000"),
        ("2.50", "2.5"),
        ("0", "0"),
        ("0.000001", "0.000001"),
        ("1234567", "1,234,567"),
        ("1500000.25", "1,500,000.25"),
        ("-5", "-5"),
    ],
)
def test_quantity_is_grouped_without_trailing_zeros(quantity: str, expected: str) -> None:
    assert format_quantity(D(quantity)) == expected


# --- properties ----------------------------------------------------------------------------

currencies = st.sampled_from(["USD", "JPY", "KWD", "EUR", "BHD"])
# Exact amounts with up to 9 decimals, built from integers (no floats anywhere).
exact_amounts = st.builds(
    lambda units, places: Decimal(units).scaleb(-places),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.integers(min_value=0, max_value=9),
)


@given(amount=exact_amounts, currency=currencies)
def test_rounding_moves_an_amount_by_at_most_half_a_minor_unit(
    amount: Decimal, currency: str
) -> None:
    rounded = round_money(amount, currency)
    half_unit = Decimal(1).scaleb(-minor_unit_exponent(currency)) / 2
    assert abs(rounded - amount) <= half_unit
    assert rounded.as_tuple().exponent == -minor_unit_exponent(currency)


@given(amount=exact_amounts, currency=currencies)
def test_rounding_a_rounded_amount_changes_nothing(amount: Decimal, currency: str) -> None:
    once = round_money(amount, currency)
    assert round_money(once, currency) == once


@given(amount=exact_amounts, currency=currencies)
def test_formatted_money_reads_back_as_the_rounded_amount(amount: Decimal, currency: str) -> None:
    text = format_money(amount, currency)
    symbol = get_currency_symbol(currency, DEFAULT_LOCALE)
    digits = text.replace(symbol, "", 1).replace("\u00a0", "").replace(",", "")
    assert Decimal(digits) == round_money(amount, currency)


def test_a_thirty_digit_unit_price_is_shown_with_all_its_places() -> None:
    # normalize() in the default context kept 28 digits and hid two places.
    price = Decimal("123456789012345.123456789012345")

    assert format_unit_price(price, "USD") == "$123,456,789,012,345.123456789012345"


def test_a_large_amount_is_formatted_without_rounding_its_digits() -> None:
    amount = Decimal("1234567890123456789012345678901234.56")

    assert format_money(amount, "USD") == "$1,234,567,890,123,456,789,012,345,678,901,234.56"


@pytest.mark.parametrize(
    ("amount", "currency", "fits"),
    [
        ("1.10", "USD", True),
        ("1.100", "USD", True),
        ("1.105", "USD", False),
        ("1", "JPY", True),
        ("1.5", "JPY", False),
        ("0.125", "KWD", True),
        ("0.1255", "KWD", False),
        ("1E+100", "USD", True),  # huge, yet whole: no context overflows
        ("1E-100", "USD", False),
        ("0", "USD", True),
    ],
)
def test_an_amount_is_in_minor_units_whatever_its_size(
    amount: str, currency: str, fits: bool
) -> None:
    assert in_minor_units(Decimal(amount), currency) is fits
