"""Locales (pricing.locales, pricing.money): amounts, numbers and dates as a
customer's locale writes them (CLDR, by Babel), after our one rounding rule.

The expected strings are CLDR's, written out by hand: a no-break space
(U+00A0) where CLDR puts one, Arabic's right-to-left mark (U+200F) before an
amount, the fullwidth yen sign (U+FFE5) that CLDR's Japanese uses. CLDR's
directional marks (U+200F before an Arabic amount, inside an Arabic date)
are left out: they order right-to-left text, and Tally's invoices are left
to right, where they would scramble a date (pricing.locales.BIDI_MARKS)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal as D

import pytest
from babel.numbers import get_currency_symbol
from hypothesis import given
from hypothesis import strategies as st

from pricing.locales import (
    canonical_locale,
    format_day,
    language_tag,
    locale_choices,
    locale_problem,
    text_direction,
    without_bidi_marks,
)
from pricing.money import (
    current_locale,
    format_money,
    format_number,
    format_unit_price,
    formatting_locale,
    minor_unit_exponent,
    round_money,
)

NBSP = "\u00a0"

# The five locales, each in the currencies a customer there is billed in.
MONEY = [
    ("en_US", "1234.56", "USD", "$1,234.56"),
    ("en_US", "1234", "JPY", "¥1,234"),
    ("en_US", "1234.567", "KWD", f"KWD{NBSP}1,234.567"),
    ("de_DE", "1234.56", "EUR", f"1.234,56{NBSP}€"),
    ("de_DE", "1234.56", "USD", f"1.234,56{NBSP}$"),
    ("de_DE", "-0.10", "EUR", f"-0,10{NBSP}€"),
    ("fr_CH", "1234.56", "CHF", f"1'234,56{NBSP}CHF"),
    ("fr_CH", "1234567.89", "EUR", f"1'234'567,89{NBSP}€"),
    ("fr_CH", "1234.56", "USD", f"1'234,56{NBSP}$US"),
    ("ja_JP", "1234", "JPY", "￥1,234"),
    ("ja_JP", "1234567", "JPY", "￥1,234,567"),
    ("ja_JP", "1234.56", "USD", "$1,234.56"),
    ("ar_EG", "1234.56", "EUR", f"1,234.56{NBSP}€"),
    ("ar_EG", "1234.56", "USD", f"1,234.56{NBSP}US$"),
    ("ar_EG", "1234.567", "KWD", f"1,234.567{NBSP}د.ك."),
]


@pytest.mark.parametrize(("locale", "amount", "currency", "expected"), MONEY)
def test_money_is_written_as_the_customers_locale_writes_it(
    locale: str, amount: str, currency: str, expected: str
) -> None:
    assert format_money(D(amount), currency, locale) == expected


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en_US", "€1,234.57"),
        ("de_DE", f"1.234,57{NBSP}€"),
        ("fr_CH", f"1'234,57{NBSP}€"),
        ("ja_JP", "€1,234.57"),
        ("ar_EG", f"1,234.57{NBSP}€"),
    ],
)
def test_every_locale_rounds_half_up_by_our_rule_before_writing(locale: str, expected: str) -> None:
    # 1,234.565 is exactly half a cent: half-even (Babel's own) would write .56.
    assert format_money(D("1234.565"), "EUR", locale) == expected


@pytest.mark.parametrize("locale", ["de_CH", "fr_CH", "it_CH"])
def test_swiss_grouping_keeps_its_apostrophes_from_a_million_up(locale: str) -> None:
    # Babel 2.19 drops a pair of apostrophes as if they quoted pattern text:
    # 1'234'567 came out 1234567. Tally puts them back.
    assert "1'234'567" in format_money(D("1234567.5"), "CHF", locale)
    assert format_number(D("1234567890"), locale) == "1'234'567'890"


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en_US", "1,234,567.125"),
        ("de_DE", "1.234.567,125"),
        ("fr_CH", "1'234'567,125"),
        ("ja_JP", "1,234,567.125"),
        ("ar_EG", "1,234,567.125"),
        ("hi_IN", "12,34,567.125"),
    ],
)
def test_quantities_follow_the_locale_with_every_digit(locale: str, expected: str) -> None:
    assert format_number(D("1234567.125000"), locale) == expected


def test_a_quantity_keeps_all_its_digits_at_any_size_in_any_locale() -> None:
    huge = D("123456789012345678901234567890123456789.123456789")
    assert format_number(huge, "de_DE") == (
        "123.456.789.012.345.678.901.234.567.890.123.456.789,123456789"
    )
    assert format_number(D("0.000000001"), "fr_CH") == "0,000000001"
    assert format_number(D("-0"), "de_DE") == "0"


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en_US", "$0.00001"),
        ("de_DE", f"0,00001{NBSP}$"),
        ("fr_CH", f"0,00001{NBSP}$US"),
        ("ja_JP", "$0.00001"),
        ("ar_EG", f"0.00001{NBSP}US$"),
    ],
)
def test_unit_prices_keep_their_digits_in_the_locale(locale: str, expected: str) -> None:
    assert format_unit_price(D("0.00001"), "USD", locale) == expected


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en_US", "Mar 1, 2025"),
        ("de_DE", "01.03.2025"),
        ("fr_CH", "1 mars 2025"),
        ("ja_JP", "2025/03/01"),
        ("ar_EG", "01/03/2025"),
        ("he_IL", "1 במרץ 2025"),
        ("zh_Hans_CN", "2025年3月1日"),
        ("ko_KR", "2025. 3. 1."),
    ],
)
def test_dates_follow_the_locale(locale: str, expected: str) -> None:
    assert format_day(date(2025, 3, 1), locale) == expected


LOCALES = ["en_US", "de_DE", "fr_CH", "de_CH", "ja_JP", "ar_EG", "hi_IN", "ru_RU", "he_IL"]


@given(
    amount=st.decimals(min_value=-(10**15), max_value=10**15, places=6, allow_nan=False),
    currency=st.sampled_from(["USD", "EUR", "JPY", "KWD", "CHF"]),
    locale=st.sampled_from(LOCALES),
)
def test_written_money_reads_back_as_the_rounded_amount_in_every_locale(
    amount: D, currency: str, locale: str
) -> None:
    """The exact oracle: the digits written are the amount rounded by our
    rule, whatever the locale's symbols, grouping and sign placement."""
    symbol = without_bidi_marks(get_currency_symbol(currency, locale))
    text = format_money(amount, currency, locale).replace(symbol, "")
    rounded = round_money(amount, currency)
    places = minor_unit_exponent(currency)
    decimal_mark = "," if format_number(D("0.5"), locale) == "0,5" else "."
    number = text if places == 0 else text.replace(decimal_mark, "|")
    digits = re.sub(r"[^0-9|]", "", number).replace("|", ".")
    negative = "-" in text or "\u2212" in text
    assert D(digits) == abs(rounded)
    assert negative == (rounded < 0)
    assert not {"\u200e", "\u200f", "\u061c"} & set(text)


@pytest.mark.parametrize(
    ("given_code", "stored"),
    [
        ("de_DE", "de_DE"),
        ("de-DE", "de_DE"),
        ("en-us", "en_US"),
        (" ja_JP ", "ja_JP"),
        ("zh-CN", "zh_Hans_CN"),
        ("zh_TW", "zh_Hant_TW"),
        ("sr-Latn-RS", "sr_Latn_RS"),
        ("es-419", "es_419"),
        ("fr", "fr"),
    ],
)
def test_a_locale_is_stored_as_babel_names_it(given_code: str, stored: str) -> None:
    assert canonical_locale(given_code) == stored
    assert locale_problem(given_code) == ""


@pytest.mark.parametrize("code", ["xx_YY", "en_ZZ", "de_DE@euro", "../etc", "x" * 40, "日本"])
def test_an_unknown_locale_is_refused_in_words(code: str) -> None:
    assert canonical_locale(code) is None
    assert "is not a locale Tally knows" in locale_problem(code)


def test_no_locale_is_no_problem_it_means_the_sellers() -> None:
    assert locale_problem("") == ""


def test_every_offered_locale_is_one_tally_accepts() -> None:
    offered = dict(locale_choices())
    assert offered["de_DE"] == "German (Germany) · de_DE"
    assert offered["ja_JP"] == "Japanese (Japan) · ja_JP"
    assert all(canonical_locale(code) == code for code in offered)


def test_a_locale_is_a_bcp47_language_tag_for_the_document() -> None:
    assert language_tag("zh_Hans_CN") == "zh-Hans-CN"
    assert language_tag("ja_JP") == "ja-JP"


def test_formatting_locale_applies_inside_its_block_only() -> None:
    before = current_locale()
    with formatting_locale("de_DE"):
        assert format_money(D("1234.5"), "EUR") == f"1.234,50{NBSP}€"
        with formatting_locale("ja_JP"):
            assert format_money(D("1234"), "JPY") == "￥1,234"
        assert format_number(D("1234.5")) == "1.234,5"
    assert current_locale() == before
    assert format_money(D("1234.5"), "EUR", "en_US") == "€1,234.50"


@pytest.mark.parametrize(
    ("text", "direction"),
    [
        ("חברת בדיקה בע״מ", "rtl"),
        ("مختبر الأمل", "rtl"),
        ("1 רחוב הרצל", "rtl"),  # the first letter decides, not the number before it
        ("Acme GmbH", "ltr"),
        ("株式会社テスト", "ltr"),
        ("ACME شركة", "ltr"),
        ("12345", "ltr"),
        ("", "ltr"),
    ],
)
def test_a_customers_text_reads_in_the_direction_of_its_first_letter(
    text: str, direction: str
) -> None:
    assert text_direction(text) == direction


def test_a_date_in_a_right_to_left_locale_is_shown_in_its_own_direction() -> None:
    from django.template import engines

    template = engines["django"].from_string(
        "{% in_locale locale %}{{ when|day }}{% endin_locale %}"
    )
    when = date(2025, 3, 1)

    assert (
        template.render({"locale": "he_IL", "when": when}) == '<span dir="rtl">1 במרץ 2025</span>'
    )
    assert template.render({"locale": "de_DE", "when": when}) == "01.03.2025"
