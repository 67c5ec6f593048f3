from __future__ import annotations

from typing import Any, TypeAlias

from django.db import models
from django.urls import reverse
from django_countries.fields import CountryField

from meters.fields import ExactDecimalField
from meters.models import Meter
from pricing import invoice_steps, periods, price_models, versions
from pricing.money import CURRENCIES, format_quantity
from pricing.schema import (
    DEFAULT_BILLING_ANCHOR,
    DEFAULT_FIRST_TIER_FEE_AT_ZERO,
    DEFAULT_GRACE_PERIOD_HOURS,
    DEFAULT_LATE_USAGE_POLICY,
    DEFAULT_NET_TERMS_DAYS,
)


class Plan(models.Model):
    # The pure enums themselves, not copies (a `type` statement would hide their members).
    BillingPeriod: TypeAlias = periods.Period  # noqa: UP040

    class Kind(models.TextChoices):
        PRICE = "price", "Price plan"  # what customers pay: assigned to customers
        COST = "cost", "Cost plan"  # what their usage costs us (pricing.costing)

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PRICE)
    # The cost plan that costs every customer's usage, unless the customer has
    # their own (Customer.cost_plan). At most one (the database backs it).
    is_default_cost = models.BooleanField(default=False)
    billing_period = models.CharField(
        max_length=20,
        choices=[(p.value, p.label) for p in BillingPeriod],
        default=BillingPeriod.MONTHLY,
    )
    currency = models.CharField(
        max_length=3,
        choices=[(c, c) for c in CURRENCIES],
        default="USD",
        help_text="Every rate of the plan is priced in this currency.",
    )
    # How the plan invoices. The defaults are the plan document's
    # (pricing.schema, their one definition), so a plan made on a page, by
    # the API or from a file that leaves them out is the same plan.
    billing_anchor = models.CharField(
        max_length=20,
        choices=[(a.value, a.label) for a in periods.BillingAnchor],
        default=DEFAULT_BILLING_ANCHOR,
        help_text="Periods start on each assignment's start date, or follow the calendar "
        "(the first period then runs to the next calendar boundary, its fees prorated).",
    )
    grace_period_hours = models.PositiveIntegerField(
        "grace period (hours)",
        default=DEFAULT_GRACE_PERIOD_HOURS,
        help_text="After a period ends, its draft invoice waits this long for late usage "
        "before it is finalized.",
    )
    net_terms_days = models.PositiveIntegerField(
        "payment terms (days)",
        default=DEFAULT_NET_TERMS_DAYS,
        help_text="An invoice is due this many days after it is issued (net 30), unless the "
        "customer has their own terms.",
    )
    late_usage_policy = models.CharField(
        max_length=20,
        choices=[(p.value, p.label) for p in periods.LateUsagePolicy],
        default=DEFAULT_LATE_USAGE_POLICY,
        help_text="What happens to usage that arrives after its period's invoice was issued.",
    )
    # The version whose prices the plan's pages edit and a new period starts
    # on (pricing.versions); set when the plan is created and moved by every
    # new version, in the same transaction.
    current_version = models.ForeignKey(
        "PlanVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The taxes its invoices charge: of these, the ones of the customer's
    # country (or of no country). Not versioned: an issued invoice keeps the
    # taxes it charged (invoices.InvoiceAdjustment), and a tax rate's
    # percentage never changes (a new rate replaces it).
    tax_rates: models.ManyToManyField[TaxRate, Any] = models.ManyToManyField(
        "TaxRate", blank=True, related_name="plans"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default_cost"],
                condition=models.Q(is_default_cost=True),
                name="pricing_plan_one_default_cost",
            ),
            models.CheckConstraint(
                condition=models.Q(is_default_cost=False) | models.Q(kind="cost"),
                name="pricing_plan_default_cost_is_a_cost_plan",
            ),
        ]
        permissions = [("see_costs", "Can see costs and margins")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("pricing:detail", args=[self.pk])

    @property
    def is_cost(self) -> bool:
        return self.kind == self.Kind.COST


class PlanVersion(models.Model):
    """One complete price list of a plan (its rates and their cells), and from
    when it bills (pricing.versions). A version that is not the plan's current
    one never changes; neither does the current one once the plan has
    assignments (a change makes the next version)."""

    Starts: TypeAlias = versions.VersionStart  # noqa: UP040

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    starts = models.CharField(
        max_length=20,
        choices=[(s.value, s.label) for s in Starts],
        default=Starts.ALWAYS,
    )
    effective_at = models.DateTimeField(help_text="When the change was made.")
    change = models.CharField(
        max_length=300, blank=True, default="", help_text="What this version changed."
    )
    # Invoice-level prices (pricing.invoice_steps), copied into each new version.
    invoice_minimum = ExactDecimalField(
        max_digits=30,
        decimal_places=15,
        null=True,
        blank=True,
        help_text="Per billing period, fees and usage together after discounts: an invoice "
        "below it is trued up to it (prorated like base fees).",
    )
    # [{"description": "Setup fee", "amount": "500.00"}, …] as strings, so no
    # float touches them (pricing.schema.read_one_time_fees).
    one_time_fees = models.JSONField(
        default=list,
        blank=True,
        help_text="Charged once, on the first invoice of each assignment.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["plan", "number"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="pricing_version_numbered"),
            models.CheckConstraint(
                condition=models.Q(number__gte=1), name="pricing_version_number_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(invoice_minimum__gte=0) | models.Q(invoice_minimum__isnull=True),
                name="pricing_version_minimum_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan.name} v{self.number}"

    @property
    def rule(self) -> versions.VersionRule:
        return versions.VersionRule(self.number, self.Starts(self.starts), self.effective_at)


class Rate(models.Model):
    """How one meter is charged on a plan: a per-unit price, or a matrix of
    prices by dimension combination. Its prices live in PriceCell rows (a
    per-unit rate has one cell with no dimension values), so later models
    (tiers, packages, free units) extend the cell, not the rate."""

    class RateModel(models.TextChoices):
        # A rate without dimensions has one cell, priced by the same model.
        PER_UNIT = "per_unit", "Per unit"
        GRADUATED = "graduated", "Graduated tiers"
        VOLUME = "volume", "Volume tiers"
        PACKAGE = "package", "Package"
        DIMENSIONS = "dimensions", "Dimensions (pricing matrix)"

    # Always the version's plan, kept for lookups; it has no reverse accessor,
    # as a plan's rates are those of one of its versions (usually the current).
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(PlanVersion, on_delete=models.CASCADE, related_name="rates")
    meter = models.ForeignKey(Meter, on_delete=models.PROTECT, related_name="rates")
    rate_model = models.CharField(
        max_length=20, choices=RateModel.choices, default=RateModel.PER_UNIT
    )
    dimensions = models.JSONField(
        default=list,
        blank=True,
        help_text="The meter dimensions this rate prices by, in matrix column order.",
    )
    minimum_charge = ExactDecimalField(
        max_digits=30,
        decimal_places=15,
        null=True,
        blank=True,
        help_text="Per billing period: usage charges below it are trued up to it.",
    )
    base_fee = ExactDecimalField(
        max_digits=30,
        decimal_places=15,
        null=True,
        blank=True,
        help_text="A flat fee per billing period, prorated when the plan starts or ends "
        "inside the period.",
    )
    # The default is pricing.schema's (its one definition); rates stored
    # before the field existed were set to False by migration 0009.
    first_tier_fee_at_zero = models.BooleanField(
        "first tier's flat fee at zero usage",
        default=DEFAULT_FIRST_TIER_FEE_AT_ZERO,
        help_text="Tiered prices charge their first tier's flat fee even in a period "
        "without usage (as Stripe and OpenMeter do). Off: no usage, no charge.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["plan", "meter__label"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "meter"], name="pricing_rate_one_per_meter_per_version"
            ),
            models.CheckConstraint(
                condition=models.Q(minimum_charge__gte=0) | models.Q(minimum_charge__isnull=True),
                name="pricing_rate_minimum_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(base_fee__gte=0) | models.Q(base_fee__isnull=True),
                name="pricing_rate_base_fee_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.meter.label} on {self.plan.name}"


class PriceCell(models.Model):
    """One row of a rate's pricing matrix: a dimension combination and its price
    (or the matrix's default price, or the only price of a rate without
    dimensions). The maths is pricing.price_models; `tiers` holds
    [{"up_to": "5" | null, "unit_price": "5", "flat_fee": "0"}, ...] as strings
    so no float ever touches them."""

    PriceModel: TypeAlias = price_models.PriceModel  # noqa: UP040
    PackageRounding: TypeAlias = price_models.PackageRounding  # noqa: UP040

    rate = models.ForeignKey(Rate, on_delete=models.CASCADE, related_name="cells")
    is_default = models.BooleanField(
        default=False, help_text="Prices combinations the matrix does not list."
    )
    price_model = models.CharField(
        max_length=20,
        choices=[(m.value, m.label) for m in PriceModel],
        default=PriceModel.PER_UNIT,
    )
    tiers = models.JSONField(default=list, blank=True)
    package_size = ExactDecimalField(max_digits=30, decimal_places=9, default=1)
    package_price = ExactDecimalField(max_digits=30, decimal_places=15, default=0)
    package_rounding = models.CharField(
        max_length=4,
        choices=[(r.value, r.label) for r in PackageRounding],
        default=PackageRounding.UP,
    )
    free_units = ExactDecimalField(max_digits=30, decimal_places=9, default=0)
    dimension_values = models.JSONField(
        default=list, blank=True, help_text="Values in the order of the rate's dimensions."
    )
    # meters.naming.dimension_key of the combination; "" for a per-unit rate.
    dimension_key = models.CharField(max_length=1000, blank=True, default="")
    # At least 12 decimal places, as prices per token are tiny.
    unit_price = ExactDecimalField(max_digits=30, decimal_places=15, default=0)

    class Meta:
        ordering = ["rate", "dimension_key"]
        constraints = [
            models.UniqueConstraint(
                fields=["rate", "dimension_key"], name="pricing_pricecell_one_price_per_combination"
            ),
            models.CheckConstraint(
                condition=models.Q(unit_price__gte=0), name="pricing_pricecell_price_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(package_size__gt=0, package_price__gte=0, free_units__gte=0),
                name="pricing_pricecell_package_and_free_units_valid",
            ),
            models.UniqueConstraint(
                fields=["rate"],
                condition=models.Q(is_default=True),
                name="pricing_pricecell_one_default_per_rate",
            ),
        ]

    def __str__(self) -> str:
        combo = " · ".join(self.dimension_values) or "all usage"
        if self.price_model != self.PriceModel.PER_UNIT:
            return f"{combo}: {self.get_price_model_display()}"
        return f"{combo}: {format_quantity(self.unit_price)}"  # "0.00001", not "0.000010000…"


class TaxRate(models.Model):
    """A tax: a name, a percentage, where it applies, and whether prices
    include it. Its percentage and inclusiveness never change once made (as
    Stripe's tax rates): a new rate replaces it, and the old one is archived."""

    code = models.SlugField(
        max_length=50, unique=True, help_text="How plan files and the API name it: uk-vat."
    )
    name = models.CharField(max_length=100, help_text="Printed on invoices: VAT.")
    percentage = ExactDecimalField(max_digits=9, decimal_places=4, help_text="20 for 20%.")
    country = CountryField(
        blank=True, help_text="The jurisdiction: it taxes customers there. Blank: everywhere."
    )
    inclusive = models.BooleanField(
        default=False,
        help_text="Prices already include this tax (tax-inclusive), rather than it being "
        "added on top (tax-exclusive).",
    )
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(percentage__gte=0, percentage__lte=100),
                name="pricing_taxrate_percentage_range",
            ),
        ]

    def __str__(self) -> str:
        where = f" ({self.country.code})" if self.country else ""
        return f"{self.name} {format_quantity(self.percentage)}%{where}"

    def get_absolute_url(self) -> str:
        return reverse("pricing:tax_rates") + f"#tax-rate-{self.pk}"


class Coupon(models.Model):
    """A discount a customer or an assignment can be given
    (invoices.CouponRedemption): a percentage or a fixed amount, for one
    invoice, N invoices or for as long as it is applied, on the whole invoice
    or on the charges of chosen meters. Its terms never change once made;
    it can be archived (no new redemptions)."""

    Kind: TypeAlias = invoice_steps.DiscountKind  # noqa: UP040
    Duration: TypeAlias = invoice_steps.DiscountDuration  # noqa: UP040

    code = models.CharField(
        max_length=50, unique=True, help_text="What customers and the API name it: WELCOME10."
    )
    name = models.CharField(max_length=100, help_text="Printed on invoices.")
    kind = models.CharField(max_length=20, choices=[(k.value, k.label) for k in Kind])
    # A percentage (10 = 10%) or an amount in `currency`.
    value = ExactDecimalField(max_digits=30, decimal_places=15)
    currency = models.CharField(
        max_length=3,
        blank=True,
        choices=[(c, c) for c in CURRENCIES],
        help_text="A fixed amount's currency; it discounts only invoices in it.",
    )
    duration = models.CharField(
        max_length=20, choices=[(d.value, d.label) for d in Duration], default=Duration.ONCE
    )
    duration_periods = models.PositiveIntegerField(
        null=True, blank=True, help_text="For a repeating coupon: how many invoices it discounts."
    )
    meters = models.ManyToManyField(
        Meter,
        blank=True,
        related_name="+",
        help_text="Discount only these meters' charges. None: the whole invoice.",
    )
    max_redemptions = models.PositiveIntegerField(
        null=True, blank=True, help_text="How many customers may be given it. Blank: no limit."
    )
    redeem_by = models.DateTimeField(
        null=True, blank=True, help_text="It can be given until then; given ones keep applying."
    )
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=models.Q(value__gt=0), name="pricing_coupon_positive"),
            models.CheckConstraint(
                condition=~models.Q(kind="percentage") | models.Q(value__lte=100),
                name="pricing_coupon_percentage_at_most_100",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="fixed") | ~models.Q(currency=""),
                name="pricing_coupon_fixed_has_currency",
            ),
            models.CheckConstraint(
                condition=(models.Q(duration="repeating") & models.Q(duration_periods__gte=1))
                | (~models.Q(duration="repeating") & models.Q(duration_periods__isnull=True)),
                name="pricing_coupon_repeating_has_periods",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code}: {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("pricing:coupons") + f"#coupon-{self.pk}"

    @property
    def spec(self) -> invoice_steps.CouponTerms:
        return invoice_steps.CouponTerms(
            self.Kind(self.kind),
            self.value,
            self.currency or None,
            self.Duration(self.duration),
            self.duration_periods,
        )
