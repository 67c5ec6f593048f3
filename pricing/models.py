from __future__ import annotations

from django.db import models
from django.urls import reverse

from meters.models import Meter
from pricing.money import CURRENCIES


class Plan(models.Model):
    class BillingPeriod(models.TextChoices):
        # Values match pricing.periods.Period.
        WEEKLY = "weekly", "Weekly"
        MONTHLY = "monthly", "Monthly"
        QUARTERLY = "quarterly", "Quarterly"
        YEARLY = "yearly", "Yearly"

    name = models.CharField(max_length=200, unique=True)
    billing_period = models.CharField(
        max_length=20, choices=BillingPeriod.choices, default=BillingPeriod.MONTHLY
    )
    currency = models.CharField(
        max_length=3,
        choices=[(c, c) for c in CURRENCIES],
        default="USD",
        help_text="Every rate of the plan is priced in this currency.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("pricing:detail", args=[self.pk])


class Rate(models.Model):
    """How one meter is charged on a plan: a per-unit price, or a matrix of
    prices by dimension combination. Its prices live in PriceCell rows (a
    per-unit rate has one cell with no dimension values), so later models
    (tiers, packages, free units) extend the cell, not the rate."""

    class RateModel(models.TextChoices):
        PER_UNIT = "per_unit", "Per unit"
        DIMENSIONS = "dimensions", "Dimensions (pricing matrix)"

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="rates")
    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="rates")
    rate_model = models.CharField(
        max_length=20, choices=RateModel.choices, default=RateModel.PER_UNIT
    )
    dimensions = models.JSONField(
        default=list,
        blank=True,
        help_text="The meter dimensions this rate prices by, in matrix column order.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["plan", "meter__label"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "meter"], name="pricing_rate_one_per_meter"),
        ]

    def __str__(self) -> str:
        return f"{self.meter.label} on {self.plan.name}"


class PriceCell(models.Model):
    """One row of a rate's pricing matrix: a dimension combination and its price."""

    rate = models.ForeignKey(Rate, on_delete=models.CASCADE, related_name="cells")
    dimension_values = models.JSONField(
        default=list, blank=True, help_text="Values in the order of the rate's dimensions."
    )
    # meters.naming.dimension_key of the combination; "" for a per-unit rate.
    dimension_key = models.CharField(max_length=1000, blank=True, default="")
    # At least 12 decimal places, as prices per token are tiny.
    unit_price = models.DecimalField(max_digits=30, decimal_places=15)

    class Meta:
        ordering = ["rate", "dimension_key"]
        constraints = [
            models.UniqueConstraint(
                fields=["rate", "dimension_key"], name="pricing_pricecell_one_price_per_combination"
            ),
            models.CheckConstraint(
                condition=models.Q(unit_price__gte=0), name="pricing_pricecell_price_not_negative"
            ),
        ]

    def __str__(self) -> str:
        combo = " · ".join(self.dimension_values) or "all usage"
        return f"{combo}: {self.unit_price}"
