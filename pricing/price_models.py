"""What one price charges for a quantity: per unit, graduated or volume tiers,
packages, with free units first. Pure: no ORM, no rounding (rating rounds each
line once through money.round_money).

Rules (docs/PRICING.md has worked examples):
- Free units are deducted before any model: billable = max(0, quantity - free).
- Tier bounds are inclusive upper bounds (`up_to`), as Stripe's: with tiers
  up to 5 and up to 10, unit 5 is in the first tier and unit 5.5 in the second.
  The last tier is unbounded (`up_to=None`).
- Graduated: each unit is priced by the tier it falls in; the flat fee of every
  tier that billable usage reaches is added. Volume: the tier holding the whole
  billable quantity prices every unit, plus that tier's flat fee.
- Zero billable usage costs nothing under every model, with one exception a
  rate chooses (`first_tier_fee_at_zero`): a tiered price then charges its
  first tier's flat fee even at zero billable units, as Stripe and OpenMeter
  do (0 units are in the first tier, whose bounds start at 0). Without it, a
  tier's flat fee is a charge for usage that reaches the tier, and a charge for
  merely being on the plan is the rate's base fee. Other models ignore the
  choice. Fractional quantities are priced as they are (2.5 units at $2 = $5),
  except packages, which count whole blocks.
- Package: blocks of `package_size` units at `package_price` each; a partial
  block counts as a whole one (rounding "up", the default) or not at all ("down").
- Exact at every size the schema allows: the arithmetic runs in money.EXACT
  (`@exactly`), where a digit that would be lost raises instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from pricing.money import exactly, format_quantity

ZERO = Decimal(0)
ONE = Decimal(1)


class PriceModel(StrEnum):
    """The one definition: PriceCell.PriceModel is this enum."""

    PER_UNIT = "per_unit"
    GRADUATED = "graduated"
    VOLUME = "volume"
    PACKAGE = "package"

    @property
    def label(self) -> str:
        return PRICE_MODEL_LABELS[self]


PRICE_MODEL_LABELS = {
    PriceModel.PER_UNIT: "Per unit",
    PriceModel.GRADUATED: "Graduated tiers",
    PriceModel.VOLUME: "Volume tiers",
    PriceModel.PACKAGE: "Package",
}


class PackageRounding(StrEnum):
    """The one definition: PriceCell.PackageRounding is this enum."""

    UP = "up"
    DOWN = "down"

    @property
    def label(self) -> str:
        return PACKAGE_ROUNDING_LABELS[self]


PACKAGE_ROUNDING_LABELS = {
    PackageRounding.UP: "A partial package counts as a whole one",
    PackageRounding.DOWN: "A partial package is free",
}

TIERED_MODELS = frozenset({PriceModel.GRADUATED, PriceModel.VOLUME})


@dataclass(frozen=True)
class Tier:
    up_to: Decimal | None  # inclusive upper bound; None for the last, unbounded tier
    unit_price: Decimal
    flat_fee: Decimal = ZERO


@dataclass(frozen=True)
class CellPrice:
    """The price of one matrix cell, or of a rate without dimensions."""

    unit_price: Decimal = ZERO
    model: PriceModel = PriceModel.PER_UNIT
    tiers: tuple[Tier, ...] = ()
    package_size: Decimal = ONE
    package_price: Decimal = ZERO
    package_rounding: PackageRounding = PackageRounding.UP
    free_units: Decimal = ZERO

    @property
    def single_unit_price(self) -> Decimal | None:
        """The unit price when one price applies to every unit, else None."""
        return self.unit_price if self.model is PriceModel.PER_UNIT else None


@exactly
def billable(price: CellPrice, quantity: Decimal) -> Decimal:
    return max(ZERO, quantity - price.free_units)


@exactly
def tier_spans(tiers: tuple[Tier, ...], quantity: Decimal) -> list[tuple[Tier, Decimal]]:
    """How much of `quantity` falls in each tier it reaches, in order."""
    spans, floor = [], ZERO
    for tier in tiers:
        if quantity <= floor:
            break
        top = quantity if tier.up_to is None else min(quantity, tier.up_to)
        spans.append((tier, top - floor))
        if tier.up_to is None:
            break
        floor = tier.up_to
    return spans


def volume_tier(tiers: tuple[Tier, ...], quantity: Decimal) -> Tier:
    """The tier whose range holds `quantity` (bounds inclusive)."""
    for tier in tiers:
        if tier.up_to is None or quantity <= tier.up_to:
            return tier
    raise ValueError("tiers must end with an unbounded tier")


@exactly
def package_blocks(price: CellPrice, quantity: Decimal) -> Decimal:
    # Whole blocks and what is left, both exact: a quotient rounded to some
    # precision first (10**19 + 1e-9 units in blocks of 3) could land on a
    # whole number and lose the partial block.
    whole, rest = divmod(quantity, price.package_size)
    return whole + 1 if rest and price.package_rounding is PackageRounding.UP else whole


def charges_at_zero(price: CellPrice, first_tier_fee_at_zero: bool) -> bool:
    """Whether zero billable units still cost something: only a tiered price
    whose first tier has a flat fee, on a rate that charges it at zero."""
    return (
        first_tier_fee_at_zero
        and price.model in TIERED_MODELS
        and bool(price.tiers)
        and bool(price.tiers[0].flat_fee)
    )


def graduated_spans(price: CellPrice, units: Decimal) -> list[tuple[Tier, Decimal]]:
    """The graduated tiers `units` reach (tier_spans); zero units sit in the
    first tier, which prices them only when its fee is charged at zero."""
    return tier_spans(price.tiers, units) or [(price.tiers[0], ZERO)]


@exactly
def exact_amount(
    price: CellPrice, quantity: Decimal, *, first_tier_fee_at_zero: bool = False
) -> Decimal:
    """The unrounded charge for `quantity` units at `price`. With
    `first_tier_fee_at_zero` (the rate's choice), a tiered price charges its
    first tier's flat fee even at zero billable units."""
    units = billable(price, quantity)
    if units == 0 and not charges_at_zero(price, first_tier_fee_at_zero):
        return ZERO
    if price.model is PriceModel.PER_UNIT:
        return units * price.unit_price
    if price.model is PriceModel.GRADUATED:
        return sum(
            (n * tier.unit_price + tier.flat_fee for tier, n in graduated_spans(price, units)),
            ZERO,
        )
    if price.model is PriceModel.VOLUME:
        tier = volume_tier(price.tiers, units)
        return units * tier.unit_price + tier.flat_fee
    return package_blocks(price, units) * price.package_price


def explain(
    price: CellPrice,
    quantity: Decimal,
    show: Callable[[Decimal], str] = str,
    *,
    first_tier_fee_at_zero: bool = False,
) -> str:
    """How the amount was reached, in words an invoice reader follows:
    `5 × $5 + 1 × $4`, `6 × $4 (tier up to 10)`, `2 packages of 100 × $9`,
    and at zero usage with the first tier's fee charged `0 × $5 + $10`.
    `show` formats a price (e.g. with the currency)."""
    qty = format_quantity
    units = billable(price, quantity)
    parts: list[str] = []
    if price.free_units and quantity > 0:
        parts.append(f"{qty(min(quantity, price.free_units))} free")
    if units == 0 and not charges_at_zero(price, first_tier_fee_at_zero):
        return "; ".join(parts)
    if price.model is PriceModel.PER_UNIT:
        parts.append(f"{qty(units)} × {show(price.unit_price)}")
    elif price.model is PriceModel.GRADUATED:
        steps = []
        for tier, n in graduated_spans(price, units):
            fee = f" + {show(tier.flat_fee)}" if tier.flat_fee else ""
            steps.append(f"{qty(n)} × {show(tier.unit_price)}{fee}")
        parts.append(" + ".join(steps))
    elif price.model is PriceModel.VOLUME:
        tier = volume_tier(price.tiers, units)
        bound = "above" if tier.up_to is None else f"up to {qty(tier.up_to)}"
        fee = f" + {show(tier.flat_fee)}" if tier.flat_fee else ""
        parts.append(f"{qty(units)} × {show(tier.unit_price)}{fee} (tier {bound})")
    else:
        blocks = package_blocks(price, units)
        noun = "package" if blocks == 1 else "packages"
        size = qty(price.package_size)
        parts.append(f"{qty(blocks)} {noun} of {size} × {show(price.package_price)}")
    return "; ".join(parts)
