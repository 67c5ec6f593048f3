"""How a quantity reads on a page. Pure: no ORM, no decimal context.

Meters show event values with it and pricing (pricing.money re-exports it)
shows rated quantities, so it lives here, below both.
"""

from __future__ import annotations

from decimal import Decimal


def format_quantity(quantity: Decimal) -> str:
    """`1,000`, `2.5` — grouped, without trailing zeros.

    Exact at any size: the places shown are counted from the digits, never
    computed in a decimal context that could round a long quantity."""
    return f"{quantity:,.{significant_places(quantity)}f}"


def significant_places(quantity: Decimal) -> int:
    """How many decimal places the quantity has without trailing zeros
    (`2.50` → 1, `1000` → 0), counted from its digits."""
    _, digits, exponent = quantity.as_tuple()
    if not isinstance(exponent, int):  # NaN or infinity: no digits to count
        raise ValueError(f"not a quantity: {quantity}")
    kept = "".join(map(str, digits)).rstrip("0")  # "" for zero
    return max(0, -exponent - (len(digits) - len(kept))) if kept else 0
