"""Writes for plans and rates. Each function is atomic and keyword-only."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Func, IntegerField, Sum

from billing_site.audit import audit_created
from meters.models import Meter
from meters.naming import dimension_key
from pricing.models import Plan, PriceCell, Rate
from pricing.periods import BillingAnchor
from pricing.price_models import CellPrice
from pricing.schema import (
    DEFAULT_BILLING_ANCHOR,
    DEFAULT_GRACE_PERIOD_HOURS,
    DEFAULT_LATE_USAGE_POLICY,
    DEFAULT_NET_TERMS_DAYS,
    TERM_RULES,
    InvoiceTerms,
    PlanDraft,
    Problems,
    RateDraft,
    Size,
    rate_room_problems,
    read_terms,
    unstorable_text_problem,
)


def plan_name_taken(name: str) -> str:
    """What a taken plan name answers, at every door (the create page, the
    API, the import, the admin)."""
    return f"A pricing plan named “{name}” already exists."


def plan_name_is_taken(name: str, *, other_than: int | None = None) -> bool:
    """Whether another plan has this name, ignoring case (two plans told apart
    only by case would be one plan to a person choosing from a list)."""
    plans = Plan.objects.filter(name__iexact=name)
    if other_than is not None:
        plans = plans.exclude(pk=other_than)
    return plans.exists()


def _checked_terms(given: dict[str, object], errors: dict[str, list[str]]) -> InvoiceTerms | None:
    """The invoicing settings (one value for each key of TERM_RULES) checked
    by the plan document's rules (pricing.schema.read_terms); each broken one
    is added to `errors` under its field."""
    terms, problems = read_terms(given)
    for problem in problems:
        errors.setdefault(problem.path, []).append(problem.message)
    return terms


def _term_fields(terms: InvoiceTerms) -> dict[str, object]:
    """The checked settings as the Plan's fields store them."""
    return {
        "billing_anchor": terms.billing_anchor.value,
        "grace_period_hours": terms.grace_period_hours,
        "net_terms_days": terms.net_terms_days,
        "late_usage_policy": terms.late_usage_policy.value,
    }


# How an anchor is put in words: in why a plan with assignments keeps its
# anchor (by the anchor asked for) and on the plan page.
ANCHOR_FIXED = "This plan has assignments: its periods are fixed. Create a new plan to bill {}."
ANCHOR_PHRASE = {
    BillingAnchor.CALENDAR: "on the calendar",
    BillingAnchor.ANNIVERSARY: "on each assignment's start date",
}


@transaction.atomic
def plan_create(
    *,
    name: str,
    billing_period: str,
    currency: str,
    billing_anchor: str = DEFAULT_BILLING_ANCHOR,
    grace_period_hours: int = DEFAULT_GRACE_PERIOD_HOURS,
    net_terms_days: int = DEFAULT_NET_TERMS_DAYS,
    late_usage_policy: str = DEFAULT_LATE_USAGE_POLICY,
) -> Plan:
    """Create a plan. A taken name (ignoring case) is refused with
    ValidationError on `name`, with the same message whether the check or the
    unique constraint (a concurrent request with the same name) finds it;
    invoicing settings outside the plan document's rules
    (pricing.schema.read_terms) are refused on their fields."""
    name = name.strip()
    errors: dict[str, list[str]] = {}
    given: dict[str, object] = {
        "billing_anchor": billing_anchor,
        "grace_period_hours": grace_period_hours,
        "net_terms_days": net_terms_days,
        "late_usage_policy": late_usage_policy,
    }
    terms = _checked_terms(given, errors)
    if problem := unstorable_text_problem(name):
        errors["name"] = [f"A plan name {problem}."]
    elif plan_name_is_taken(name):
        errors["name"] = [plan_name_taken(name)]
    if errors or terms is None:
        raise ValidationError(errors)
    plan = Plan(name=name, billing_period=billing_period, currency=currency, **_term_fields(terms))
    plan.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            plan.save()
    except IntegrityError as exc:
        if not plan_name_is_taken(name):
            raise
        raise ValidationError({"name": plan_name_taken(name)}) from exc
    return plan


PLAN_UPDATE_FIELDS = ["name", *TERM_RULES]


@transaction.atomic
def plan_update(
    *,
    plan: Plan,
    name: str,
    billing_anchor: str,
    grace_period_hours: int,
    net_terms_days: int,
    late_usage_policy: str,
) -> Plan:
    """Change the plan's name and how it invoices, held to plan_create's
    rules: a name (stripped) within the column, not taken by another plan
    ignoring case, whether the check or the unique constraint (a concurrent
    request) finds it; invoicing settings by pricing.schema.read_terms.
    ValidationError keyed by field; nothing changes unless all are valid.

    Not the billing period or currency: they shape every invoice of the
    customers on the plan and every price of its rates. Nor the billing
    anchor once the plan has assignments (ended ones too): their periods,
    issued or not, were laid out by it. A new grace period or late-usage
    policy applies to periods not yet finalized, new terms to invoices not
    yet issued (an issued invoice keeps its due date)."""
    name = name.strip()
    errors: dict[str, list[str]] = {}
    try:
        Plan._meta.get_field("name").clean(name, plan)  # required, max length
    except ValidationError as exc:
        errors["name"] = exc.messages
    else:
        if problem := unstorable_text_problem(name):
            errors["name"] = [f"A plan name {problem}."]
        elif plan_name_is_taken(name, other_than=plan.pk):
            errors["name"] = [plan_name_taken(name)]
    given: dict[str, object] = {
        "billing_anchor": billing_anchor,
        "grace_period_hours": grace_period_hours,
        "net_terms_days": net_terms_days,
        "late_usage_policy": late_usage_policy,
    }
    terms = _checked_terms(given, errors)
    if (
        terms is not None
        and terms.billing_anchor != plan.billing_anchor
        and plan.assignments.exists()
    ):
        errors["billing_anchor"] = [ANCHOR_FIXED.format(ANCHOR_PHRASE[terms.billing_anchor])]
    if errors or terms is None:
        raise ValidationError(errors)
    stored = {field: getattr(plan, field) for field in PLAN_UPDATE_FIELDS}
    plan.name = name
    for field, value in _term_fields(terms).items():
        setattr(plan, field, value)
    try:
        with transaction.atomic():
            # The plan row is locked, as plan_assign locks it, so an anchor
            # change and a first assignment made at once cannot both pass.
            Plan.objects.select_for_update().filter(pk=plan.pk).first()
            if terms.billing_anchor != stored["billing_anchor"] and plan.assignments.exists():
                raise ValidationError(
                    {"billing_anchor": [ANCHOR_FIXED.format(ANCHOR_PHRASE[terms.billing_anchor])]}
                )
            plan.save(update_fields=PLAN_UPDATE_FIELDS)
    except (IntegrityError, ValidationError) as exc:
        for field, value in stored.items():  # the caller's plan still reads as stored
            setattr(plan, field, value)
        if isinstance(exc, ValidationError) or not plan_name_is_taken(name, other_than=plan.pk):
            raise
        raise ValidationError({"name": plan_name_taken(name)}) from exc
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


class _JSONArrayLength(Func):
    function = "JSONB_ARRAY_LENGTH"  # PostgreSQL stores JSONField as jsonb
    output_field = IntegerField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, function="JSON_ARRAY_LENGTH", **extra)


def _plan_size(plan: Plan) -> Size:
    """What the plan holds, counted by the database (one query per count)."""
    cells = PriceCell.objects.filter(rate__plan=plan)
    counted = cells.aggregate(prices=Count("pk"), tiers=Sum(_JSONArrayLength("tiers")))
    return Size(plan.rates.count(), counted["prices"], counted["tiers"] or 0)


def already_priced(meter: Meter, plan: Plan) -> ValidationError:
    return ValidationError({"meter": f"{meter.label} is already priced on {plan.name}."})


@transaction.atomic
def rate_save(*, plan: Plan, meter: Meter, draft: RateDraft) -> Rate:
    """Store a checked rate (pricing.schema.read_rate) on the plan. Raises
    Problems when the plan has no room for it (pricing.schema's plan limits)."""
    if Rate.objects.filter(plan=plan, meter=meter).exists():
        raise already_priced(meter, plan)
    # Locking the plan row makes two rates added at once count each other.
    Plan.objects.select_for_update().filter(pk=plan.pk).first()
    if problems := rate_room_problems(_plan_size(plan), draft):
        raise Problems(problems)
    try:
        with transaction.atomic():
            rate = Rate.objects.create(
                plan=plan,
                meter=meter,
                rate_model=draft.model,
                dimensions=list(draft.dimensions),
                minimum_charge=draft.minimum_charge,
                base_fee=draft.base_fee,
            )
    except IntegrityError as exc:
        # The same meter priced by a concurrent request since the check above.
        if not Rate.objects.filter(plan=plan, meter=meter).exists():
            raise
        raise already_priced(meter, plan) from exc
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
    audit_created(cells)  # bulk_create sends no signals
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
    plan = plan_create(
        name=draft.name,
        billing_period=draft.billing_period,
        currency=draft.currency,
        billing_anchor=draft.terms.billing_anchor,
        grace_period_hours=draft.terms.grace_period_hours,
        net_terms_days=draft.terms.net_terms_days,
        late_usage_policy=draft.terms.late_usage_policy,
    )
    meters = Meter.objects.in_bulk([r.meter for r in draft.rates], field_name="api_name")
    for rate in draft.rates:
        rate_save(plan=plan, meter=meters[rate.meter], draft=rate)
    return plan


@transaction.atomic
def rate_delete(*, rate: Rate) -> None:
    rate.delete()
