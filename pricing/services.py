"""Writes for plans and rates. Each function is atomic and keyword-only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Func, IntegerField, Sum
from django.utils import timezone

from billing_site.audit import audit_created
from meters.models import Meter
from meters.naming import dimension_key
from pricing.models import Plan, PlanVersion, PriceCell, Rate, TaxRate
from pricing.periods import BillingAnchor
from pricing.price_models import CellPrice
from pricing.schema import (
    DEFAULT_BILLING_ANCHOR,
    DEFAULT_GRACE_PERIOD_HOURS,
    DEFAULT_LATE_USAGE_POLICY,
    DEFAULT_NET_TERMS_DAYS,
    TERM_RULES,
    InvoiceCharges,
    InvoiceTerms,
    PlanDraft,
    Problems,
    RateDraft,
    Size,
    rate_room_problems,
    read_invoice_charges,
    read_terms,
    unstorable_text_problem,
)
from pricing.taxes import plan_tax_rates_set
from pricing.versions import CHANGE_STARTS, DEFAULT_CHANGE_START, VersionStart


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
    kind: str = Plan.Kind.PRICE,
) -> Plan:
    """Create a plan: a price plan (what customers pay), or a cost plan
    (`kind` "cost": what their usage costs us, pricing.costing; its rates are
    rates like any other). A taken name (ignoring case) is refused with
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
    if kind not in Plan.Kind.values:
        errors["kind"] = ["Choose a price plan or a cost plan."]
        raise ValidationError(errors)
    plan = Plan(
        name=name,
        billing_period=billing_period,
        currency=currency,
        kind=kind,
        **_term_fields(terms),
    )
    plan.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            plan.save()
    except IntegrityError as exc:
        if not plan_name_is_taken(name):
            raise
        raise ValidationError({"name": plan_name_taken(name)}) from exc
    first = PlanVersion.objects.create(
        plan=plan, number=1, starts=VersionStart.ALWAYS, effective_at=plan.created_at
    )
    plan.current_version = first
    plan.save(update_fields=["current_version"])
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


def _version_size(version: PlanVersion) -> Size:
    """What the version holds, counted by the database (one query per count)."""
    cells = PriceCell.objects.filter(rate__version=version)
    counted = cells.aggregate(prices=Count("pk"), tiers=Sum(_JSONArrayLength("tiers")))
    return Size(version.rates.count(), counted["prices"], counted["tiers"] or 0)


def already_priced(meter: Meter, plan: Plan) -> ValidationError:
    return ValidationError({"meter": f"{meter.label} is already priced on {plan.name}."})


def not_priced(meter: Meter, plan: Plan) -> ValidationError:
    return ValidationError({"meter": f"{meter.label} is not priced on {plan.name}."})


def plan_in_use(plan: Plan) -> bool:
    """Whether a change to the plan's prices makes a new version: a price
    plan with assignments (ended ones too), whose periods are billed by its
    versions; a cost plan that costs someone's usage (the default one, or a
    customer's own), so its history is kept."""
    if plan.is_cost:
        return plan.is_default_cost or plan.cost_customers.exists()
    return plan.assignments.exists()


def _checked_start(starts: str | None, plan: Plan | None = None) -> VersionStart:
    """When a change to a plan in use takes effect: one of CHANGE_STARTS, by
    default DEFAULT_CHANGE_START (ValidationError on `starts` otherwise). A
    cost plan's change takes effect from an instant (the `now` its service is
    given: the date a provider's price changes), whatever `starts` says."""
    if plan is not None and plan.is_cost:
        return VersionStart.FROM_INSTANT
    if starts in (None, ""):
        return DEFAULT_CHANGE_START
    if starts not in CHANGE_STARTS:
        choices = ", ".join(f"“{s.value}”" for s in CHANGE_STARTS)
        raise ValidationError({"starts": f"Choose when the change takes effect: {choices}."})
    return VersionStart(starts)


def _locked_current(plan: Plan) -> PlanVersion:
    """The plan's current version, read with the plan row locked: two changes
    to its prices at once are made one after the other, each on the version
    the other left (and `plan` is brought up to date with it)."""
    locked = Plan.objects.select_for_update().get(pk=plan.pk)
    current = PlanVersion.objects.select_related("plan").get(
        plan=locked, pk=locked.current_version_id or 0
    )
    plan.current_version = current
    return current


def _version_for_change(
    plan: Plan,
    current: PlanVersion,
    change: str,
    starts: VersionStart,
    *,
    leave_out: Meter | Sequence[Meter] | None = None,
    now: datetime | None = None,
) -> tuple[PlanVersion, bool]:
    """The version a change to the plan's prices is written into, and whether
    it is new: the current version itself (from _locked_current) while the
    plan has no assignments, else a new one, numbered next, copying the
    current one's rates (all but `leave_out`'s) and effective from `now` (the
    clock's by default) as `starts` says (pricing.versions)."""
    if not plan_in_use(plan):
        return current, False
    version = PlanVersion.objects.create(
        plan=plan,
        number=current.number + 1,
        starts=starts,
        effective_at=now or timezone.now(),
        change=change[: PlanVersion._meta.get_field("change").max_length],
        invoice_minimum=current.invoice_minimum,
        one_time_fees=current.one_time_fees,
    )
    _copy_rates(current, version, leave_out)
    plan.current_version = version
    plan.save(update_fields=["current_version"])
    return version, True


def _copy_rates(
    source: PlanVersion, target: PlanVersion, leave_out: Meter | Sequence[Meter] | None
) -> None:
    """The rates and cells of `source` (but `leave_out`'s) into `target`. The
    copies are logged with the version, not one entry each: no price changed."""
    rates = list(source.rates.prefetch_related("cells").order_by("pk"))
    if leave_out is not None:
        left = {leave_out.pk} if isinstance(leave_out, Meter) else {m.pk for m in leave_out}
        rates = [rate for rate in rates if rate.meter_id not in left]
    copies = Rate.objects.bulk_create(
        Rate(
            plan_id=target.plan_id,
            version=target,
            meter_id=rate.meter_id,
            rate_model=rate.rate_model,
            dimensions=rate.dimensions,
            minimum_charge=rate.minimum_charge,
            base_fee=rate.base_fee,
            first_tier_fee_at_zero=rate.first_tier_fee_at_zero,
        )
        for rate in rates
    )
    PriceCell.objects.bulk_create(
        PriceCell(
            rate=copy,
            is_default=cell.is_default,
            price_model=cell.price_model,
            tiers=cell.tiers,
            package_size=cell.package_size,
            package_price=cell.package_price,
            package_rounding=cell.package_rounding,
            free_units=cell.free_units,
            dimension_values=cell.dimension_values,
            dimension_key=cell.dimension_key,
            unit_price=cell.unit_price,
        )
        for rate, copy in zip(rates, copies, strict=True)
        for cell in sorted(rate.cells.all(), key=lambda c: c.pk)
    )


def _store_rate(version: PlanVersion, meter: Meter, draft: RateDraft) -> Rate:
    """A checked rate written into `version`, where the meter has none."""
    plan = version.plan
    if problems := rate_room_problems(_version_size(version), draft):
        raise Problems(problems)
    try:
        with transaction.atomic():
            rate = Rate.objects.create(
                plan=plan,
                version=version,
                meter=meter,
                rate_model=draft.model,
                dimensions=list(draft.dimensions),
                minimum_charge=draft.minimum_charge,
                base_fee=draft.base_fee,
                first_tier_fee_at_zero=draft.first_tier_fee_at_zero,
            )
    except IntegrityError as exc:
        # The same meter priced by a concurrent request since the check above.
        if not Rate.objects.filter(version=version, meter=meter).exists():
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


@transaction.atomic
def rate_save(
    *,
    plan: Plan,
    meter: Meter,
    draft: RateDraft,
    starts: str | None = None,
    now: datetime | None = None,
) -> Rate:
    """Add a checked rate (pricing.schema.read_rate) to the plan's prices: in
    place while the plan has no assignments, else in a new version effective
    as `starts` says (pricing.versions; by default the next period). Raises
    Problems when the plan has no room for it (pricing.schema's plan limits)."""
    start = _checked_start(starts, plan)
    current = _locked_current(plan)
    if Rate.objects.filter(version=current, meter=meter).exists():
        raise already_priced(meter, plan)
    change = f"{meter.label}: rate added"
    version, _ = _version_for_change(plan, current, change, start, now=now)
    return _store_rate(version, meter, draft)


@transaction.atomic
def rate_replace(
    *,
    plan: Plan,
    meter: Meter,
    draft: RateDraft,
    starts: str | None = None,
    now: datetime | None = None,
) -> Rate:
    """Change how the plan prices `meter` to a checked rate: in place while
    the plan has no assignments, else in a new version (as rate_save).
    ValidationError on `meter` when the plan does not price it."""
    start = _checked_start(starts, plan)
    current = _locked_current(plan)
    stored = Rate.objects.filter(version=current, meter=meter).first()
    if stored is None:
        raise not_priced(meter, plan)
    change = f"{meter.label}: rate changed"
    version, is_new = _version_for_change(plan, current, change, start, leave_out=meter, now=now)
    if not is_new:  # in place: the plan bills no one yet
        stored.delete()
    return _store_rate(version, meter, draft)


def rate_create(
    *,
    plan: Plan,
    meter: Meter,
    unit_price: Decimal | None = None,
    dimensions: Sequence[str] = (),
    matrix: Sequence[tuple[Sequence[str], Decimal]] = (),
    starts: str | None = None,
    now: datetime | None = None,
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
    return rate_save(plan=plan, meter=meter, draft=draft, starts=starts, now=now)


@transaction.atomic
def plan_import(*, draft: PlanDraft) -> Plan:
    """Create a plan, all its rates, its invoice minimum and one-time fees
    (in version 1) and its tax rates from a checked document (pricing.schema.
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
    if draft.charges != InvoiceCharges():
        fields = charges_to_fields(draft.charges)
        plan_charges_save(
            plan=plan,
            invoice_minimum=fields["invoice_minimum"],
            one_time_fees=fields["one_time_fees"],
        )
    if draft.tax_rates:
        # A code that names no tax rate, or rates mixing inclusive and
        # exclusive, is a problem of the document (pricing.plan_files.check_plan).
        rates = TaxRate.objects.filter(code__in=draft.tax_rates)
        plan_tax_rates_set(plan=plan, rates=list(rates))
    return plan


def charges_to_fields(charges: InvoiceCharges) -> dict[str, object]:
    """The checked invoice-level prices as PlanVersion stores them."""
    return {
        "invoice_minimum": charges.invoice_minimum,
        "one_time_fees": [
            {"description": fee.description, "amount": str(fee.amount)}
            for fee in charges.one_time_fees
        ],
    }


@transaction.atomic
def plan_charges_save(
    *,
    plan: Plan,
    invoice_minimum: object,
    one_time_fees: object,
    starts: str | None = None,
    now: datetime | None = None,
) -> PlanVersion:
    """Set the plan's invoice minimum and one-time fees, checked by the plan
    document's rules (pricing.schema.read_invoice_charges; ValidationError
    keyed by field). Like a rate, in place while the plan has no
    assignments, else in a new version taking effect as `starts` says."""
    start = _checked_start(starts, plan)
    charges, problems = read_invoice_charges(
        {"invoice_minimum": invoice_minimum, "one_time_fees": one_time_fees}, plan.currency
    )
    if charges is None:
        errors: dict[str, list[str]] = {}
        for problem in problems:
            errors.setdefault(problem.path, []).append(problem.message)
        raise ValidationError(errors)
    current = _locked_current(plan)
    fields = charges_to_fields(charges)
    if all(getattr(current, name) == value for name, value in fields.items()):
        return current
    version, _ = _version_for_change(
        plan, current, "Invoice minimum and one-time fees changed", start, now=now
    )
    for name, value in fields.items():
        setattr(version, name, value)
    version.save(update_fields=list(fields))
    return version


@transaction.atomic
def rate_delete(
    *, rate: Rate, starts: str | None = None, now: datetime | None = None
) -> PlanVersion:
    """Stop pricing the rate's meter on its plan: in place while the plan has
    no assignments, else in a new version without it (as rate_save). Only a
    rate of the plan's current version can be deleted (ValidationError)."""
    plan = rate.plan
    start = _checked_start(starts, plan)
    current = _locked_current(plan)
    if rate.version_id != current.pk:
        raise ValidationError("Only the plan's current prices can change; this rate is history.")
    meter = rate.meter
    change = f"{meter.label}: rate removed"
    version, is_new = _version_for_change(plan, current, change, start, leave_out=meter, now=now)
    if not is_new:
        rate.delete()
    return version


@transaction.atomic
def cost_plan_make_default(*, plan: Plan) -> Plan:
    """Make the cost plan the one that costs every customer without their
    own (ValidationError unless it is a cost plan). The plan rows are locked,
    so two at once leave one default."""
    if not plan.is_cost:
        raise ValidationError({"plan": f"{plan.name} is a price plan, not a cost plan."})
    list(Plan.objects.select_for_update().filter(kind=Plan.Kind.COST).order_by("pk"))
    Plan.objects.filter(is_default_cost=True).exclude(pk=plan.pk).update(is_default_cost=False)
    if not plan.is_default_cost:
        plan.is_default_cost = True
        plan.save(update_fields=["is_default_cost"])
    return plan


@transaction.atomic
def rates_apply(
    *,
    plan: Plan,
    drafts: Sequence[tuple[Meter, RateDraft]],
    starts: str | None = None,
    now: datetime | None = None,
) -> PlanVersion:
    """Set how the plan prices several meters at once (each added or
    replaced; the plan's other rates kept) as one change: in place while the
    plan is not in use, else one new version holding them all, effective as
    `starts` says (a cost plan's: from `now`). A provider's price sheet is
    applied this way (pricing.cost_views.cost_sheet_apply)."""
    start = _checked_start(starts, plan)
    current = _locked_current(plan)
    meters = [meter for meter, _ in drafts]
    change = "Rates set: " + ", ".join(meter.label for meter in meters)
    version, is_new = _version_for_change(plan, current, change, start, leave_out=meters, now=now)
    if not is_new:
        Rate.objects.filter(version=version, meter__in=meters).delete()
    for meter, draft in drafts:
        _store_rate(version, meter, draft)
    return version
