"""The rate editor's live preview, and how a price reads on the plan page.

Pure: no ORM. The preview prices usage with the same draft the editor would
store (pricing.schema.RateDraft), through the same pricing.rating.rate_usage
that invoices use, so what the preview shows is what an invoice would charge.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from pricing.money import format_quantity, format_unit_price
from pricing.price_models import ONE, CellPrice, Tier, charges_at_zero
from pricing.rating import (
    LineKind,
    PricedLine,
    RateSpec,
    UnpricedUsage,
    UsageGroup,
    invoice_total,
    rate_usage,
)
from pricing.schema import RateDraft

ZERO = Decimal(0)
# A combination no matrix row lists, to preview the default price with.
OTHER = "(other)"
_NUMBER = re.compile(r"^(\d+\.?\d*|\.\d+)$")


def draft_spec(draft: RateDraft, meter_label: str) -> RateSpec:
    """The RateSpec a stored `draft` would give (pricing.selectors.rate_spec)."""
    return RateSpec(
        rate_id=0,
        meter_label=meter_label,
        dimensions=draft.dimensions,
        cells=dict(draft.cells),
        default_cell=draft.default_price,
        minimum_charge=draft.minimum_charge,
        flat_fee=draft.base_fee,
        first_tier_fee_at_zero=draft.first_tier_fee_at_zero,
    )


def parse_quantity(raw: str) -> Decimal | None:
    """A quantity typed into the preview; None when left empty.
    Raises ValueError with a message for anything but a plain number >= 0."""
    text = raw.strip().replace(",", "")
    if not text:
        return None
    if not _NUMBER.match(text):
        raise ValueError(f"“{raw.strip()}” is not a quantity; type a number such as 1500.")
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern rules this out
        raise ValueError(f"“{raw.strip()}” is not a quantity.") from exc


@dataclass(frozen=True)
class PreviewLine:
    line: PricedLine
    explanation: str  # how the amount arose, also for a plain per-unit line

    @property
    def is_usage(self) -> bool:
        return self.line.kind is LineKind.USAGE


@dataclass(frozen=True)
class Preview:
    lines: tuple[PreviewLine, ...]
    unpriced: tuple[UnpricedUsage, ...]
    total: Decimal
    currency: str


def price_usage(
    spec: RateSpec,
    usage: Sequence[UsageGroup],
    currency: str,
    coverage: Fraction | Decimal = ONE,
) -> Preview:
    """Rate `usage` as an invoice would, with every line explained."""
    rated = rate_usage(spec, usage, currency, coverage)
    other = tuple(OTHER for _ in spec.dimensions)
    lines = []
    for line in rated.lines:
        if spec.dimensions and tuple(v for _, v in line.dimensions) == other:
            description = f"{spec.meter_label} · any other combination (default price)"
            line = replace(line, description=description)
        lines.append(PreviewLine(line, _explain(line, currency)))
    return Preview(tuple(lines), tuple(rated.unpriced), invoice_total(rated.lines), currency)


def _explain(line: PricedLine, currency: str) -> str:
    if line.explanation or line.kind is not LineKind.USAGE:
        return line.explanation
    if line.unit_price is None:  # tiers or a package at zero usage, nothing charged
        return "No usage, no charge"
    # A plain per-unit line.
    return f"{format_quantity(line.quantity)} × {format_unit_price(line.unit_price, currency)}"


@dataclass(frozen=True)
class TierView:
    """One tier as the plan page shows it: the range it covers and its prices."""

    start: Decimal
    up_to: Decimal | None
    unit_price: Decimal
    flat_fee: Decimal


def tier_rows(tiers: Sequence[Tier]) -> list[TierView]:
    """Each tier with where it starts: where the tier before ends (exclusive)."""
    starts = [ZERO, *(t.up_to or ZERO for t in tiers)]
    return [
        TierView(s, t.up_to, t.unit_price, t.flat_fee) for s, t in zip(starts, tiers, strict=False)
    ]


@dataclass(frozen=True)
class PriceView:
    """A price as the plan page shows it."""

    price: CellPrice
    tiers: list[TierView]

    @property
    def model(self) -> str:
        return self.price.model.value

    @property
    def has_flat_fees(self) -> bool:
        return any(t.flat_fee for t in self.tiers)


@dataclass(frozen=True)
class RateDefinition:
    """A rate's whole price definition, for the plan page."""

    dimensions: tuple[str, ...]
    cells: list[tuple[tuple[str, ...], PriceView]]
    default: PriceView | None
    minimum_charge: Decimal | None
    base_fee: Decimal | None
    first_tier_fee_at_zero: bool

    @property
    def single(self) -> PriceView | None:
        """The price of a rate without dimensions."""
        return self.cells[0][1] if not self.dimensions and self.cells else None

    @property
    def zero_usage(self) -> str:
        """What a period without usage costs, where the rate's choice changes
        it (a tiered price whose first tier has a flat fee); "" elsewhere."""
        views = [view for _, view in self.cells] + ([self.default] if self.default else [])
        if not any(charges_at_zero(view.price, True) for view in views):
            return ""
        if self.first_tier_fee_at_zero:
            return "The first tier’s flat fee is charged even at zero usage."
        return "No usage, no charge: a tier’s flat fee is charged once usage reaches it."

    @property
    def has_facts(self) -> bool:
        return bool(self.minimum_charge or self.base_fee or self.zero_usage)


def price_view(price: CellPrice) -> PriceView:
    return PriceView(price, tier_rows(price.tiers))


def rate_definition(draft: RateDraft) -> RateDefinition:
    return RateDefinition(
        dimensions=draft.dimensions,
        cells=[(values, price_view(price)) for values, price in draft.cells],
        default=price_view(draft.default_price) if draft.default_price else None,
        minimum_charge=draft.minimum_charge,
        base_fee=draft.base_fee,
        first_tier_fee_at_zero=draft.first_tier_fee_at_zero,
    )
