"""Money: exact decimals, one rounding rule, currency-aware formatting.

The rule (docs/PRICING.md): a line's amount is computed exactly (quantity x unit
price, no rounding), then rounded ONCE to the currency's minor unit with
ROUND_HALF_UP. Invoice totals are sums of rounded lines. Nothing else rounds.
No ORM imports here.

"Exactly" is enforced, not hoped for: pricing arithmetic runs inside `exactly`
(the EXACT context), where a result that would need rounding raises
`decimal.Inexact`/`decimal.Rounded` instead of losing a digit.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from copy import copy
from decimal import (
    ROUND_HALF_UP,
    Clamped,
    Context,
    Decimal,
    DivisionByZero,
    FloatOperation,
    Inexact,
    InvalidOperation,
    Overflow,
    Rounded,
    Subnormal,
    Underflow,
    localcontext,
)
from fractions import Fraction
from functools import lru_cache, wraps
from typing import Any

from babel import Locale
from babel.numbers import NumberPattern, get_currency_symbol, parse_pattern

# Defined below pricing, in meters (whose event tables show quantities too);
# re-exported so money formatting is imported from one place.
from meters.quantities import format_quantity as format_quantity
from meters.quantities import significant_places
from pricing.locales import without_bidi_marks

ROUNDING = ROUND_HALF_UP
# How amounts and numbers are written (Babel's locale data, CLDR) when no
# locale is given: the one `formatting_locale` sets (an invoice in its
# customer's locale; pricing.locales), else the seller's, which the pricing
# app sets at start from settings.SELLER_LOCALE (`set_default_locale`).
DEFAULT_LOCALE = "en_US"
_LOCALE: ContextVar[str | None] = ContextVar("formatting_locale", default=None)
_default_locale = DEFAULT_LOCALE


def set_default_locale(locale: str) -> None:
    global _default_locale
    _default_locale = locale


@contextmanager
def formatting_locale(locale: str) -> Iterator[str]:
    """Write money, numbers and dates in `locale` inside the block (an
    invoice in its customer's locale), wherever they are formatted."""
    token = _LOCALE.set(locale)
    try:
        yield locale
    finally:
        _LOCALE.reset(token)


def current_locale() -> str:
    return _LOCALE.get() or _default_locale


def default_locale() -> str:
    """The locale when no customer's applies: the seller's."""
    return _default_locale


# The widest number pricing can meet (derivation in docs/PRICING.md, "Exact at
# every size"): a period's quantity is a sum of at most 2**63 events (a bigint
# id) each below 10**20 with 9 places: < 10**39, 48 digits. Times a price below
# 10**15 with 15 places: < 10**54 with 24 places, 78 digits; tiers, fees, lines
# and totals add a handful more. 100 digits hold all of it; Emax/Emin leave the
# exponents (-24 .. +60) far inside the range. Anything beyond still cannot be
# rounded silently: Inexact and Rounded are traps, so it raises.
PRECISION = 100
EXACT = Context(
    prec=PRECISION,
    rounding=ROUND_HALF_UP,
    Emax=999,
    Emin=-999,
    traps=[
        Clamped,
        DivisionByZero,
        FloatOperation,
        Inexact,
        InvalidOperation,
        Overflow,
        Rounded,
        Subnormal,
        Underflow,
    ],
)
# The same context for the one deliberate rounding (round_money, and showing a
# non-terminating prorated amount): there losing digits is the point.
_ROUNDING_CONTEXT = EXACT.copy()
_ROUNDING_CONTEXT.traps[Inexact] = False
_ROUNDING_CONTEXT.traps[Rounded] = False
# A prorated amount such as 1/3 of $20 has no finite decimal form; its exact
# value is a Fraction (which round_money rounds), shown with this many places.
SHOWN_PLACES = 30


def exactly[**P, R](func: Callable[P, R]) -> Callable[P, R]:
    """Run `func` in the EXACT context: its Decimal arithmetic either is exact
    or raises, it never rounds."""

    @wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with localcontext(EXACT):
            return func(*args, **kwargs)

    return run


@exactly
def exact_sum(values: Iterable[Decimal]) -> Decimal:
    """The sum of `values`, exactly (Python's `sum` rounds to 28 digits)."""
    return sum(values, Decimal(0))


# ISO 4217 minor-unit exponents. Currencies not listed use 2.
CURRENCY_EXPONENTS: dict[str, int] = {
    "BHD": 3,
    "CLP": 0,
    "IQD": 3,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "PYG": 0,
    "TND": 3,
    "UGX": 0,
    "VND": 0,
}
# The currencies a plan may be priced in (the plan form offers these).
CURRENCIES: tuple[str, ...] = (
    "USD",
    "EUR",
    "GBP",
    "CAD",
    "AUD",
    "CHF",
    "JPY",
    "INR",
    "SEK",
    "BRL",
    "KWD",
)


def minor_unit_exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS.get(currency.upper(), 2)


# The largest amount a person may enter as money (a credit grant, a
# payment): fifteen digits before the point, as a price may have
# (pricing.schema.MAX_DIGITS), far inside the 60-digit amount columns.
MAX_AMOUNT = Decimal(10) ** 15


def in_minor_units(amount: Decimal, currency: str) -> bool:
    """Whether a finite amount has no digit finer than the currency's minor
    unit (`1.10` and `1.100` are in cents, `1.105` is not), whatever its size:
    read from its digits, so no context can overflow on a huge value."""
    _, digits, exponent = amount.as_tuple()
    assert isinstance(exponent, int), "a finite amount"
    written = "".join(map(str, digits))
    trailing_zeros = len(written) - len(written.rstrip("0"))
    return -(exponent + trailing_zeros) <= minor_unit_exponent(currency)


def round_money(amount: Decimal | Fraction, currency: str) -> Decimal:
    """Round an exact amount to the currency's minor unit, half up.

    The only place in Tally where money is rounded. A Fraction is a prorated
    amount (a share of a fee) that may have no finite decimal form; it is
    rounded from its exact value, never from a truncated expansion.
    """
    exponent = minor_unit_exponent(currency)
    if isinstance(amount, Fraction):
        return _round_fraction(amount, exponent)
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be a Decimal, got {type(amount).__name__}")
    quantum = Decimal(1).scaleb(-exponent)
    return amount.quantize(quantum, rounding=ROUNDING, context=_ROUNDING_CONTEXT)


def _round_fraction(amount: Fraction, places: int) -> Decimal:
    """`amount` to `places` decimal places, half away from zero (as ROUND_HALF_UP)."""
    scaled = abs(amount) * 10**places
    whole, rest = divmod(scaled.numerator, scaled.denominator)
    if 2 * rest >= scaled.denominator:
        whole += 1
    return Decimal(-whole if amount < 0 else whole).scaleb(-places, context=_ROUNDING_CONTEXT)


def round_places(amount: Fraction, places: int) -> Decimal:
    """A ratio that is not money (a margin percentage) to `places` decimal
    places by the same rule, half up."""
    return _round_fraction(amount, places)


def fraction_decimal(amount: Fraction) -> Decimal:
    """A Fraction as a Decimal: exact when it has a finite decimal form (a
    prorated $30 x 1/4 is 7.5), else shown to SHOWN_PLACES places (1/3 of $20
    is 6.666…667), for display beside the rounded amount only."""
    denominator, twos, fives = amount.denominator, 0, 0
    while denominator % 2 == 0:
        denominator, twos = denominator // 2, twos + 1
    while denominator % 5 == 0:
        denominator, fives = denominator // 5, fives + 1
    if denominator != 1:
        return _round_fraction(amount, SHOWN_PLACES)
    places = max(twos, fives)
    scaled = amount * 10**places  # a whole number, since 10**places is a multiple
    return Decimal(scaled.numerator).scaleb(-places, context=EXACT)


def format_money(amount: Decimal, currency: str, locale: str | None = None) -> str:
    """`$1,234.50`, `¥1,235`, `-$0.10`, `1.234,50 €` (de_DE): Babel's
    locale-aware currency format (CLDR) of the amount rounded first by our
    one rule, at the currency's minor unit, so Babel's half-even rounding
    never applies (it is given nothing to round). Lines and totals are
    already rounded; unit prices use `format_unit_price`."""
    rounded = round_money(amount, currency)
    return _currency_text(
        rounded, currency, locale or current_locale(), minor_unit_exponent(currency)
    )


def format_unit_price(price: Decimal, currency: str, locale: str | None = None) -> str:
    """A unit price with every significant digit it has (at least the currency's
    minor unit), in the locale's currency format: `$0.00001`, `$0.01`, `$2.50`."""
    exponent = minor_unit_exponent(currency)
    normalized = price.normalize(EXACT)
    places = max(exponent, -int(normalized.as_tuple().exponent))
    return _currency_text(price, currency, locale or current_locale(), places)


def format_number(value: Decimal, locale: str | None = None) -> str:
    """A quantity in the locale's decimal format, every digit it has and no
    trailing zeros: `1,234.5` (en_US), `1.234,5` (de_DE), `1'234,5` (fr_CH).
    Exact at any size, like meters.quantities.format_quantity."""
    places = significant_places(value)
    where, pattern = _number_pattern(locale or current_locale(), places)
    with localcontext(EXACT):
        text = pattern.apply(value.copy_abs() if value.is_zero() else value, where)
    return without_bidi_marks(text.replace(_APOSTROPHE_STAND_IN, "'"))


@lru_cache(maxsize=256)
def _number_pattern(locale: str, places: int) -> tuple[Locale, NumberPattern]:
    where = _writing_locale(locale)
    pattern = copy(parse_pattern(where.decimal_formats[None].pattern))
    pattern.frac_prec = (places, places)
    return where, pattern


def _currency_text(amount: Decimal, currency: str, locale: str, places: int) -> str:
    """`amount` (already exact at `places` decimals, so nothing is rounded)
    in the locale's standard currency pattern with exactly `places`
    decimals, with CLDR's currency spacing, which Babel does not apply: a
    no-break space between a symbol made of letters (CHF, KWD) and the
    digits beside it. Zero is never written with a minus sign."""
    where, pattern = _currency_pattern(locale, places)
    # Babel quantizes in the current context: one wide enough for any
    # amount the schema allows, where quantizing an exact value is exact.
    with localcontext(EXACT):
        text = pattern.apply(
            amount.copy_abs() if amount.is_zero() else amount,
            where,
            currency=currency.upper(),
            currency_digits=False,
            decimal_quantization=True,
        ).replace(_APOSTROPHE_STAND_IN, "'")
    return without_bidi_marks(_spaced(text, get_currency_symbol(currency.upper(), where)))


@lru_cache(maxsize=256)
def _currency_pattern(locale: str, places: int) -> tuple[Locale, NumberPattern]:
    where = _writing_locale(locale)
    pattern = copy(parse_pattern(where.currency_formats["standard"].pattern))
    pattern.frac_prec = (places, places)
    return where, pattern


# Babel (2.19) reads a pair of apostrophes in a written number as quoted
# pattern text and drops them, so a locale grouping with an apostrophe
# (de_CH, fr_CH) lost its separators from a million up: 1'234'567 came out
# 1234567. While Babel writes, such a locale groups with this stand-in
# (a private-use character), put back once Babel is done.
_APOSTROPHE_STAND_IN = "\ue000"


class _ApostropheSafeLocale(Locale):
    @property
    def number_symbols(self) -> Any:
        return {
            system: {
                **symbols,
                "group": symbols.get("group", ",").replace("'", _APOSTROPHE_STAND_IN),
            }
            for system, symbols in super().number_symbols.items()
        }


def _writing_locale(locale: str) -> Locale:
    where = Locale.parse(locale)
    if "'" not in where.number_symbols["latn"].get("group", ","):
        return where
    return _ApostropheSafeLocale(
        where.language, where.territory, where.script, where.variant, where.modifier
    )


def _spaced(text: str, symbol: str) -> str:
    at = text.find(symbol) if symbol else -1
    if at < 0:
        return text
    end = at + len(symbol)
    if end < len(text) and text[end].isdigit() and not _is_symbol_or_space(symbol[-1]):
        return f"{text[:end]}\u00a0{text[end:]}"
    if at > 0 and text[at - 1].isdigit() and not _is_symbol_or_space(symbol[0]):
        return f"{text[:at]}\u00a0{text[at:]}"
    return text


def _is_symbol_or_space(char: str) -> bool:
    return unicodedata.category(char)[0] in "SZ"
