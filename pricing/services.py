"""Writes for plans and rates. Each function is atomic and keyword-only."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from meters.models import Meter
from meters.naming import dimension_key
from pricing.models import Plan, PriceCell, Rate
from pricing.price_models import CellPrice
from pricing.schema import PlanDraft, RateDraft


@transaction.atomic
def plan_create(*, name: str, billing_period: str, currency: str) -> Plan:
    plan = Plan(name=name, billing_period=billing_period, currency=currency)
    plan.full_clean()
    plan.save()
    return plan


def _cell_fields(price: CellPrice) -> dict[str, object]:
    return {
        "price_model": price.model.value,
        "unit_price": price.unit_price,
        "tiers": [
            {
                "up_to": None if t.up_to is None else str(t.up_to),
                "unit_price": str(t.unit_price),
                "flat_fee": str(t.flat_fee),
            }
            for t in price.tiers
        ],
        "package_size": price.package_size,
        "package_price": price.package_price,
        "package_rounding": price.package_rounding.value,
        "free_units": price.free_units,
    }


@transaction.atomic
def rate_save(*, plan: Plan, meter: Meter, draft: RateDraft) -> Rate:
    """Store a checked rate (pricing.schema.read_rate) on the plan."""
    if Rate.objects.filter(plan=plan, meter=meter).exists():
        raise ValidationError(f"{meter.label} is already priced on {plan.name}.")
    rate = Rate.objects.create(
        plan=plan,
        meter=meter,
        rate_model=draft.model,
        dimensions=list(draft.dimensions),
        minimum_charge=draft.minimum_charge,
        base_fee=draft.base_fee,
    )
    cells = [
        PriceCell(
            rate=rate,
            dimension_values=list(values),
            dimension_key=dimension_key(dict(zip(draft.dimensions, values, strict=True))),
            **_cell_fields(price),
        )
        for values, price in draft.cells
    ]
    if draft.default_price is not None:
        default = _cell_fields(draft.default_price)
        cells.append(PriceCell(rate=rate, is_default=True, dimension_key="*", **default))
    PriceCell.objects.bulk_create(cells)
    return rate


def rate_create(
    *,
    plan: Plan,
    meter: Meter,
    unit_price: Decimal | None = None,
    dimensions: Sequence[str] = (),
    matrix: Sequence[tuple[Sequence[str], Decimal]] = (),
) -> Rate:
    """Shorthand for the guide's two rates: a per-unit price, or a matrix of
    (values in dimension order, price per unit)."""
    if dimensions:
        undefined = [d for d in dimensions if d not in meter.dimensions]
        if undefined:
            raise ValidationError(f"Meter {meter.label} has no dimension {', '.join(undefined)}.")
        cells = tuple((tuple(values), CellPrice(unit_price=price)) for values, price in matrix)
        draft = RateDraft(meter.api_name, "dimensions", tuple(dimensions), cells)
    elif unit_price is None:
        raise ValidationError("A per-unit rate needs a price.")
    else:
        draft = RateDraft(meter.api_name, "per_unit", (), (((), CellPrice(unit_price)),))
    return rate_save(plan=plan, meter=meter, draft=draft)


@transaction.atomic
def plan_import(*, draft: PlanDraft) -> Plan:
    """Create a plan and all its rates from a checked document (pricing.schema.
    read_plan), all or nothing."""
    if Plan.objects.filter(name__iexact=draft.name).exists():
        raise ValidationError(f"A pricing plan named “{draft.name}” already exists.")
    plan = plan_create(
        name=draft.name, billing_period=draft.billing_period, currency=draft.currency
    )
    meters = Meter.objects.in_bulk([r.meter for r in draft.rates], field_name="api_name")
    for rate in draft.rates:
        rate_save(plan=plan, meter=meters[rate.meter], draft=rate)
    return plan


@transaction.atomic
def rate_delete(*, rate: Rate) -> None:
    rate.delete()
