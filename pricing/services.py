"""Writes for plans and rates. Each function is atomic and keyword-only."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from meters.models import Meter
from meters.naming import dimension_key
from pricing.models import Plan, PriceCell, Rate


@transaction.atomic
def plan_create(*, name: str, billing_period: str, currency: str) -> Plan:
    plan = Plan(name=name, billing_period=billing_period, currency=currency)
    plan.full_clean()
    plan.save()
    return plan


@transaction.atomic
def rate_create(
    *,
    plan: Plan,
    meter: Meter,
    unit_price: Decimal | None = None,
    dimensions: Sequence[str] = (),
    matrix: Sequence[tuple[Sequence[str], Decimal]] = (),
) -> Rate:
    """A per-unit rate (`unit_price`) or a dimensional one (`dimensions` and a
    `matrix` of (values in dimension order, price per unit))."""
    if Rate.objects.filter(plan=plan, meter=meter).exists():
        raise ValidationError(f"{meter.label} is already priced on {plan.name}.")
    if dimensions:
        undefined = [d for d in dimensions if d not in meter.dimensions]
        if undefined:
            raise ValidationError(f"Meter {meter.label} has no dimension {', '.join(undefined)}.")
        rate = Rate.objects.create(
            plan=plan,
            meter=meter,
            rate_model=Rate.RateModel.DIMENSIONS,
            dimensions=list(dimensions),
        )
        PriceCell.objects.bulk_create(
            PriceCell(
                rate=rate,
                dimension_values=list(values),
                unit_price=price,
                dimension_key=dimension_key(dict(zip(dimensions, values, strict=True))),
            )
            for values, price in matrix
        )
        return rate
    if unit_price is None:
        raise ValidationError("A per-unit rate needs a price.")
    rate = Rate.objects.create(plan=plan, meter=meter, rate_model=Rate.RateModel.PER_UNIT)
    PriceCell.objects.create(rate=rate, unit_price=unit_price)
    return rate


@transaction.atomic
def rate_delete(*, rate: Rate) -> None:
    rate.delete()
