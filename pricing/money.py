"""Money: exact decimals, one rounding rule, currency-aware formatting.

The rule (docs/PRICING.md): a line's amount is computed exactly (quantity x unit
price, no rounding), then rounded ONCE to the currency's minor unit with
ROUND_HALF_UP. Invoice totals are sums of rounded lines. Nothing else rounds.
No ORM imports here.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

ROUNDING = ROUND_HALF_UP

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
CURRENCY_SYMBOLS: dict[str, str] = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "INR": "₹",
    "CAD": "CA$",
    "AUD": "A$",
    "CHF": "CHF ",
    "KWD": "KD ",
    "SEK": "SEK ",
    "BRL": "R$",
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


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round an exact amount to the currency's minor unit, half up.

    The only place in Tally where money is rounded.
    """
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be a Decimal, got {type(amount).__name__}")
    quantum = Decimal(1).scaleb(-minor_unit_exponent(currency))
    return amount.quantize(quantum, rounding=ROUNDING)


def format_money(amount: Decimal, currency: str) -> str:
    """`$1,234.50`, `¥1,235`, `-$0.10`. The amount is shown as given (already
    rounded lines and totals); unit prices use `format_unit_price`."""
    exponent = minor_unit_exponent(currency)
    rounded = round_money(amount, currency)
    sign = "-" if rounded < 0 else ""
    digits = f"{abs(rounded):,.{exponent}f}"
    symbol = CURRENCY_SYMBOLS.get(currency.upper())
    if symbol is None:
        return f"{sign}{digits} {currency.upper()}"
    return f"{sign}{symbol}{digits}"


def format_unit_price(price: Decimal, currency: str) -> str:
    """A unit price with every significant digit it has (at least the currency's
    minor unit): `$0.00001`, `$0.01`, `$2.50`."""
    exponent = minor_unit_exponent(currency)
    normalized = price.normalize()
    places = max(exponent, -int(normalized.as_tuple().exponent))
    digits = f"{abs(price):,.{places}f}"
    sign = "-" if price < 0 else ""
    symbol = CURRENCY_SYMBOLS.get(currency.upper())
    if symbol is None:
        return f"{sign}{digits} {currency.upper()}"
    return f"{sign}{symbol}{digits}"


def format_quantity(quantity: Decimal) -> str:
    """`1,000`, `2.5` — grouped, without trailing zeros."""
    normalized = quantity.normalize()
    places = max(0, -int(normalized.as_tuple().exponent))
    return f"{quantity:,.{places}f}"
