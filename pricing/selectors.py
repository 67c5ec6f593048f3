"""Reading plans and rates into the plain data the pure modules work on."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, Prefetch, QuerySet

from pricing.models import Plan, PlanVersion, PriceCell, Rate
from pricing.periods import BillingAnchor, LateUsagePolicy
from pricing.price_models import CellPrice, PackageRounding, PriceModel, Tier
from pricing.rating import RateSpec
from pricing.schema import InvoiceCharges, InvoiceTerms, OneTimeFee, PlanDraft, RateDraft

# Matrix rows in the order they were entered (the plan page, exports and
# invoices all list them that way).
CELLS_IN_ENTRY_ORDER = Prefetch("cells", queryset=PriceCell.objects.order_by("pk"))


def cell_price(cell: PriceCell) -> CellPrice:
    return CellPrice(
        unit_price=cell.unit_price,
        model=PriceModel(cell.price_model),
        tiers=tuple(
            Tier(
                up_to=None if t["up_to"] is None else Decimal(t["up_to"]),
                unit_price=Decimal(t["unit_price"]),
                flat_fee=Decimal(t.get("flat_fee") or "0"),
            )
            for t in cell.tiers
        ),
        package_size=cell.package_size,
        package_price=cell.package_price,
        package_rounding=PackageRounding(cell.package_rounding),
        free_units=cell.free_units,
    )


def rate_spec(rate: Rate) -> RateSpec:
    """Expects `rate.cells` prefetched and `rate.meter` selected."""
    cells = list(rate.cells.all())
    default = next((c for c in cells if c.is_default), None)
    return RateSpec(
        rate_id=rate.pk,
        meter_label=rate.meter.label,
        dimensions=tuple(rate.dimensions),
        cells={tuple(c.dimension_values): cell_price(c) for c in cells if not c.is_default},
        default_cell=cell_price(default) if default else None,
        minimum_charge=rate.minimum_charge,
        flat_fee=rate.base_fee,
        first_tier_fee_at_zero=rate.first_tier_fee_at_zero,
    )


def rate_draft(rate: Rate) -> RateDraft:
    cells = list(rate.cells.all())
    default = next((c for c in cells if c.is_default), None)
    return RateDraft(
        meter=rate.meter.api_name,
        model=rate.rate_model,
        dimensions=tuple(rate.dimensions),
        cells=tuple((tuple(c.dimension_values), cell_price(c)) for c in cells if not c.is_default),
        default_price=cell_price(default) if default else None,
        minimum_charge=rate.minimum_charge,
        base_fee=rate.base_fee,
        first_tier_fee_at_zero=rate.first_tier_fee_at_zero,
    )


def version_rates(version_id: int | None) -> QuerySet[Rate]:
    """A version's rates with their meters and cells, in meter order."""
    rates = Rate.objects.filter(version_id=version_id).select_related("meter")
    return rates.prefetch_related(CELLS_IN_ENTRY_ORDER).order_by("meter__label")


def plan_rates(plan: Plan) -> QuerySet[Rate]:
    """The plan's current rates (those of its current version: what the plan
    pages edit, exports write, and a new period starts on)."""
    return version_rates(plan.current_version_id)


def plan_versions(plan: Plan) -> list[PlanVersion]:
    """The plan's versions, newest first, each with `rate_count`."""
    versions = plan.versions.annotate(rate_count=Count("rates"))
    return list(versions.order_by("-number"))


def plan_terms(plan: Plan) -> InvoiceTerms:
    """How the plan invoices, as the plan document writes it."""
    return InvoiceTerms(
        billing_anchor=BillingAnchor(plan.billing_anchor),
        grace_period_hours=plan.grace_period_hours,
        net_terms_days=plan.net_terms_days,
        late_usage_policy=LateUsagePolicy(plan.late_usage_policy),
    )


def plan_draft(plan: Plan) -> PlanDraft:
    """The plan as its document writes it: its current version's rates and
    invoice-level prices, and the codes of its tax rates (archived ones too:
    the plan still lists them)."""
    rates = plan_rates(plan)
    version = plan.current_version
    return PlanDraft(
        name=plan.name,
        billing_period=plan.billing_period,
        currency=plan.currency,
        rates=tuple(rate_draft(rate) for rate in rates),
        terms=plan_terms(plan),
        charges=version_charges(version) if version is not None else InvoiceCharges(),
        tax_rates=tuple(plan.tax_rates.order_by("code").values_list("code", flat=True)),
    )


def version_charges(version: PlanVersion) -> InvoiceCharges:
    """The version's invoice-level prices, read back."""
    return InvoiceCharges(
        invoice_minimum=version.invoice_minimum,
        one_time_fees=tuple(
            OneTimeFee(fee["description"], Decimal(fee["amount"])) for fee in version.one_time_fees
        ),
    )
