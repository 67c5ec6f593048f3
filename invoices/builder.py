"""Assembling an invoice: the database gives grouped usage, pricing.rating
prices it. The page, the PDF and the API all call `build_invoice`, so they
can never disagree.

How an event becomes an invoice line:
1. `customer_periods` finds the billing period from the customer's assignment.
2. For the rates of the plan version that bills the period (pricing.versions:
   the newest one that takes it), one grouped query per aggregation
   (meters.selectors.customer_usage) aggregates the customer's events in the
   period per meter and dimension key; `build_invoices` does it for many
   customers at once (customers_usage, the customer in the GROUP BY), and
   both price through the same `_priced`.
3. `project_usage` regroups them onto the rate's pricing dimensions and
   `rate_usage` prices each group (exact amount, then one rounding per line).
4. Usage no rate prices becomes an "unpriced" entry with its reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Exists, Q

from customers.models import Customer, PlanAssignment
from meters.models import Meter, UsageEvent
from meters.partial_usage import PartialUsage
from meters.selectors import (
    customer_meter_ids,
    customer_usage,
    customers_meter_ids,
    customers_usage,
)
from pricing.costing import LineCost
from pricing.invoice_steps import TAX_NOTES, StepsSummary, TaxStatus
from pricing.locales import language_tag, locale_label
from pricing.models import PlanVersion, Rate
from pricing.money import DEFAULT_LOCALE, exact_sum
from pricing.periods import BillingAnchor, BillingPeriod, Period, Schedule
from pricing.rating import (
    Aggregation,
    LineKind,
    PricedLine,
    UnpricedUsage,
    invoice_total,
    project_usage,
    rate_usage,
)
from pricing.schema import InvoiceCharges
from pricing.selectors import rate_spec, version_charges, version_rates
from pricing.versions import version_for_period

MICROSECOND = timedelta(microseconds=1)
MAX_PERIODS = 36  # how far back the period picker reaches
# Periods asked about in one query, each an EXISTS column of it: PostgreSQL
# allows 1,664 columns and SQLite 2,000, so past 500 periods (14 assignments
# of 36) the period list takes one more query per 500.
PERIODS_PER_QUERY = 500


def billing_tz() -> ZoneInfo:
    """The billing time zone (env BILLING_TIME_ZONE, which sets TIME_ZONE)."""
    return ZoneInfo(settings.TIME_ZONE)


@dataclass(frozen=True)
class PeriodRef:
    assignment: PlanAssignment
    period: BillingPeriod
    is_current: bool
    # The whole period this one is part of: itself, except the first period
    # of a calendar-anchored plan (20 March to 1 April lies in March).
    full: BillingPeriod | None = None

    @property
    def token(self) -> str:
        """`<assignment id>@<period start, UTC>`, how URLs name this period:
        by the stored instant it starts at, so a link keeps naming the same
        period whatever BILLING_TIME_ZONE says later (a period that is no
        longer a boundary of the assignment is simply not found)."""
        return f"{self.assignment.pk}@{self.period.start.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"

    @property
    def coverage(self) -> Fraction:
        """The share of the whole period the assignment covers (1 unless it
        starts late on a calendar plan or ends inside the period); base fees
        and minimums are prorated by it. A Fraction, so 10 days of 30 is
        exactly 1/3, not 0.3333…"""
        full = self.full or self.period
        whole = full.end - full.start
        return Fraction((self.usage_end - self.period.start) // MICROSECOND, whole // MICROSECOND)

    @property
    def usage_end(self) -> datetime:
        """The period's end, cut short where the assignment ends inside it."""
        end = self.assignment.end_at
        return min(self.period.end, end) if end else self.period.end


@dataclass(frozen=True)
class InvoiceSection:
    meter_id: int
    meter_label: str
    rate_model: str
    lines: list[PricedLine]
    subtotal: Decimal
    # The usage the lines were priced from, at the meter's finest grain, and
    # how: what costing needs (invoices.margins; empty on an issued invoice).
    parts: tuple[PartialUsage, ...] = ()
    dimensions: tuple[str, ...] = ()
    aggregation: str = ""
    # What each line's usage cost (pricing.costing), beside `lines`, when
    # shown to someone who may see costs; empty otherwise.
    costs: tuple[LineCost | None, ...] = ()

    @property
    def rows(self) -> list[tuple[PricedLine, LineCost | None]]:
        """Each line with its cost (None when costs are not shown)."""
        costs = self.costs or (None,) * len(self.lines)
        return list(zip(self.lines, costs, strict=True))


@dataclass(frozen=True)
class SimpleLine:
    description: str
    quantity: Decimal
    unit_price: Decimal | None
    amount: Decimal


@dataclass(frozen=True)
class Header:
    """Who, what and when, as printed: for a draft from the live customer and
    plan, for an issued invoice from its stored snapshot."""

    customer_name: str
    customer_id: str
    customer_email: str
    customer_address: str
    plan_name: str
    period_start: datetime
    usage_end: datetime
    is_current: bool = False
    number: str = ""
    status: str = "draft"
    status_label: str = "Draft"
    issue_date: date | None = None
    due_date: date | None = None
    seller_name: str = ""
    seller_address: str = ""
    plan_version: int | None = None  # which price version of the plan priced it
    # How the customer is taxed: the country's name, the tax ID, and the note
    # a tax status prints (pricing.invoice_steps.TAX_NOTES; "" if taxable).
    customer_country: str = ""
    customer_tax_id: str = ""
    tax_note: str = ""
    # The locale it is written in (pricing.locales): the customer's, else the
    # seller's; an issued invoice's, as issued.
    locale: str = DEFAULT_LOCALE

    @property
    def language(self) -> str:
        """The locale as a BCP 47 tag, for the document's `lang`."""
        return language_tag(self.locale)

    @property
    def locale_label(self) -> str:
        return locale_label(self.locale)


def simplify(sections: list[InvoiceSection]) -> list[SimpleLine]:
    """One line per rate (the guide: "you can simplify how invoices are presented")."""
    simple = []
    for section in sections:
        prices = {line.unit_price for line in section.lines if line.kind is LineKind.USAGE}
        simple.append(
            SimpleLine(
                description=section.meter_label,
                quantity=exact_sum(
                    line.quantity for line in section.lines if line.kind is LineKind.USAGE
                ),
                unit_price=prices.pop() if len(prices) == 1 else None,
                amount=section.subtotal,
            )
        )
    return simple


class SectionedLines:
    """What an invoice's sections give, the same whether it was computed
    (Invoice) or read back as issued (invoices.selectors.StoredContent)."""

    sections: list[InvoiceSection]

    @property
    def lines(self) -> list[PricedLine]:
        return [line for section in self.sections for line in section.lines]

    @property
    def simplified(self) -> list[SimpleLine]:
        return simplify(self.sections)


@dataclass(frozen=True)
class Invoice(SectionedLines):
    """A period's invoice computed from usage and today's prices: a draft."""

    customer: Customer
    ref: PeriodRef
    currency: str
    sections: list[InvoiceSection]
    unpriced: list[UnpricedUsage]
    total: Decimal  # the lines' sum: the charges, before the invoice steps
    plan_version: int = 1  # the number of the version whose prices it carries
    # The version's invoice-level prices (pricing.invoice_steps), and what the
    # steps make of the lines (invoices.adjustments), once they have run.
    charges: InvoiceCharges = InvoiceCharges()
    steps: StepsSummary | None = None

    @property
    def plan_name(self) -> str:
        return self.ref.assignment.plan.name

    @property
    def header(self) -> Header:
        c = self.customer
        return Header(
            customer_name=c.name,
            customer_id=c.customer_id,
            customer_email=c.email,
            customer_address=c.billing_address,
            plan_name=self.plan_name,
            period_start=self.ref.period.start,
            usage_end=self.ref.usage_end,
            is_current=self.ref.is_current,
            seller_name=settings.SELLER_NAME,
            seller_address=settings.SELLER_ADDRESS,
            plan_version=self.plan_version,
            customer_country=str(c.country.name or ""),
            customer_tax_id=c.tax_id,
            tax_note=TAX_NOTES[TaxStatus(c.tax_status)],
            locale=c.invoice_locale,
        )


def schedule(assignment: PlanAssignment) -> Schedule:
    """The assignment's billing periods, by its plan's period and anchor."""
    plan = assignment.plan
    return Schedule(
        assignment.start_at,
        Period(plan.billing_period),
        BillingAnchor(plan.billing_anchor),
        billing_tz(),
        assignment.anchor_at,
    )


def _ref(assignment: PlanAssignment, index: int, now: datetime) -> PeriodRef:
    plan_schedule = schedule(assignment)
    bp, full = plan_schedule.at(index), plan_schedule.full(index)
    active = assignment.end_at is None or now < assignment.end_at
    return PeriodRef(assignment, bp, active and bp.contains(now), full if full != bp else None)


def assignment_periods(assignment: PlanAssignment, now: datetime) -> list[BillingPeriod]:
    """The assignment's periods that have begun by `now` (up to its end), at
    most MAX_PERIODS back, oldest first."""
    return [ref.period for ref in _assignment_periods(assignment, now)]


def stored_period(
    assignment: PlanAssignment, start: datetime, end: datetime, now: datetime
) -> PeriodRef:
    """The period a stored invoice names, by its own dates."""
    active = assignment.end_at is None or now < assignment.end_at
    bp = BillingPeriod(start, end)
    full = None
    if start == assignment.start_at:  # a first period may be part of a whole one
        whole = schedule(assignment).full(0)
        if whole.start <= start and whole.end == end and whole != bp:
            full = whole
    return PeriodRef(assignment, bp, active and bp.contains(now), full)


def _assignment_periods(assignment: PlanAssignment, now: datetime) -> list[PeriodRef]:
    """Periods of the assignment from its start up to now (or its end)."""
    if now < assignment.start_at:
        return []
    until = now
    if assignment.end_at and assignment.end_at <= now:
        until = assignment.end_at - timedelta(microseconds=1)  # last covered instant
    last = schedule(assignment).index(until)
    first = max(0, last + 1 - MAX_PERIODS)
    return [_ref(assignment, n, now) for n in range(first, last + 1)]


def customer_periods(customer: Customer, now: datetime) -> list[PeriodRef]:
    """The current period and every earlier one with usage, newest first."""
    refs: list[PeriodRef] = []
    assignments = customer.assignments.select_related("plan").order_by("start_at")
    for assignment in assignments:
        refs.extend(_assignment_periods(assignment, now))
    refs.sort(key=lambda r: r.period.start, reverse=True)
    past = [ref for ref in refs if not ref.is_current]
    used = _with_usage(customer, past)
    return [ref for ref in refs if ref.is_current or ref.token in used]


def _with_usage(customer: Customer, refs: list[PeriodRef]) -> set[str]:
    """The tokens of the periods in which the customer has usage: one indexed
    EXISTS per period (customer_id, event_time), all in one query."""
    events = UsageEvent.objects.filter(customer_id=customer.customer_id)
    used: set[str] = set()
    for first in range(0, len(refs), PERIODS_PER_QUERY):
        chunk = {
            ref.token: Exists(
                events.filter(event_time__gte=ref.period.start, event_time__lt=ref.usage_end)
            )
            for ref in refs[first : first + PERIODS_PER_QUERY]
        }
        flags = {f"p{n}": exists for n, exists in enumerate(chunk.values())}
        row = Customer.objects.filter(pk=customer.pk).annotate(**flags).values_list(*flags).get()
        used.update(token for token, flag in zip(chunk, row, strict=True) if flag)
    return used


def find_period(
    customer: Customer, assignment_id: int, start: datetime, now: datetime
) -> PeriodRef | None:
    """The period of one of the customer's assignments that starts at `start`,
    if there is one and it has begun."""
    assignment = customer.assignments.select_related("plan").filter(pk=assignment_id).first()
    if assignment is None or not assignment.start_at <= start <= now:
        return None
    ref = _ref(assignment, schedule(assignment).index(start), now)
    if ref.period.start != start or (assignment.end_at and start >= assignment.end_at):
        return None
    return ref


def _window(ref: PeriodRef, received_until: datetime | None) -> Q:
    window = Q(event_time__gte=ref.period.start, event_time__lt=ref.usage_end)
    if received_until is not None:
        window &= Q(received_at__lte=received_until)
    return window


def build_invoice(
    customer: Customer, ref: PeriodRef, *, received_until: datetime | None = None
) -> Invoice:
    """The period's invoice from its usage and the plan's prices today.
    `received_until` counts only the events received up to that instant
    (finalization's cutoff; late usage is what arrived after it)."""
    return build_invoices([(customer, ref)], received_until=received_until)[0]


def build_invoices(
    items: Sequence[tuple[Customer, PeriodRef]], *, received_until: datetime | None = None
) -> list[Invoice]:
    """`build_invoice` for each (customer, period) of `items`, in their order,
    at a cost that does not grow with their number: the versions of each plan
    and the rates of each version are read once, and the items sharing a
    period and a version have their usage aggregated together
    (meters.selectors.customers_usage, the customer in the GROUP BY), with one
    query for the meters outside the plan. Each invoice is then priced by
    `_priced`, alone or in a batch alike."""
    versions_by_plan: dict[int, list[PlanVersion]] = {}
    rates_by_version: dict[int, list[Rate]] = {}
    chosen: dict[int, PlanVersion] = {}
    groups: dict[tuple[datetime, datetime, int], list[int]] = {}
    for n, (_, ref) in enumerate(items):
        plan_id = ref.assignment.plan_id
        if plan_id not in versions_by_plan:
            versions_by_plan[plan_id] = list(PlanVersion.objects.filter(plan_id=plan_id))
        version = period_version(versions_by_plan[plan_id], ref)
        if version.pk not in rates_by_version:
            rates_by_version[version.pk] = list(version_rates(version.pk))
            chosen[version.pk] = version
        groups.setdefault((ref.period.start, ref.usage_end, version.pk), []).append(n)
    built: dict[int, Invoice] = {}
    for (_, _, version_id), members in groups.items():
        rates = rates_by_version[version_id]
        first = items[members[0]][1]
        window = _window(first, received_until)
        customer_ids = list(dict.fromkeys(items[n][0].customer_id for n in members))
        usage = customers_usage([rate.meter for rate in rates], customer_ids, window)
        # One query, on the (customer_id, event_time) index, whatever the number of meters.
        others = customers_meter_ids(
            customer_ids, window & ~Q(meter_id__in=[rate.meter_id for rate in rates])
        )
        other_meters = list(
            Meter.objects.filter(pk__in=set().union(*others.values())).order_by("label", "pk")
            if others
            else []
        )
        other_usage = customers_usage(other_meters, list(others), window) if other_meters else {}
        reason = f"the meter is not in the plan {first.assignment.plan.name}"
        for n in members:
            customer, ref = items[n]
            unpriced = _unpriced(
                [m for m in other_meters if m.pk in others.get(customer.customer_id, set())],
                other_usage.get(customer.customer_id, {}),
                reason,
            )
            invoice = _priced(customer, ref, rates, usage[customer.customer_id], unpriced)
            version = chosen[version_id]
            built[n] = replace(
                invoice, plan_version=version.number, charges=version_charges(version)
            )
    return [built[n] for n in range(len(items))]


def period_version(versions: Sequence[PlanVersion], ref: PeriodRef) -> PlanVersion:
    """Of a plan's versions, the one that bills the period (pricing.versions)."""
    by_number = {version.number: version for version in versions}
    rule = version_for_period([v.rule for v in versions], ref.period.start, ref.period.end)
    return by_number[rule.number]


def _priced(
    customer: Customer,
    ref: PeriodRef,
    rates: list[Rate],
    usage: dict[int, list[PartialUsage]],
    unpriced_meters: list[UnpricedUsage],
) -> Invoice:
    """The invoice from the customer's usage of the period (by meter id) and
    the plan's rates: the pricing both `build_invoice` and `build_invoices` use."""
    plan = ref.assignment.plan
    sections: list[InvoiceSection] = []
    unpriced: list[UnpricedUsage] = []
    for rate in rates:
        groups = project_usage(
            Aggregation(rate.meter.meter_type), usage[rate.meter_id], rate.dimensions
        )
        rated = rate_usage(rate_spec(rate), groups, plan.currency, ref.coverage)
        sections.append(
            InvoiceSection(
                meter_id=rate.meter_id,
                meter_label=rate.meter.label,
                rate_model=rate.get_rate_model_display(),
                lines=rated.lines,
                subtotal=invoice_total(rated.lines),
                parts=tuple(usage[rate.meter_id]),
                dimensions=tuple(rate.dimensions),
                aggregation=rate.meter.meter_type,
            )
        )
        unpriced.extend(rated.unpriced)
    unpriced.extend(unpriced_meters)
    total = exact_sum(s.subtotal for s in sections)
    return Invoice(customer, ref, plan.currency, sections, unpriced, total)


def _unpriced(
    meters: list[Meter], usage: dict[int, list[PartialUsage]], reason: str
) -> list[UnpricedUsage]:
    """The usage of `meters` (in their order) as unpriced entries."""
    return [
        UnpricedUsage(meter.label, tuple(sorted(part.dimensions.items())), part.quantity, reason)
        for meter in meters
        for part in usage.get(meter.pk, [])
    ]


def _unpriced_meter_usage(
    customer: Customer, meter_ids: set[int], window: Q, reason: str
) -> list[UnpricedUsage]:
    meters = list(Meter.objects.filter(pk__in=meter_ids).order_by("label", "pk"))
    return _unpriced(meters, customer_usage(meters, customer.customer_id, window), reason)


def unassigned_usage(customer: Customer) -> list[UnpricedUsage]:
    """The customer's usage at times no plan assignment covers."""
    covered = Q()
    for a in customer.assignments.all():
        span = Q(event_time__gte=a.start_at)
        covered |= span & Q(event_time__lt=a.end_at) if a.end_at else span
    window = ~covered if covered else Q()
    meter_ids = set(customer_meter_ids(customer.customer_id, window))
    return _unpriced_meter_usage(customer, meter_ids, window, "no plan was assigned at that time")


def current_period(customer: Customer, now: datetime) -> PeriodRef | None:
    for ref in customer_periods(customer, now):
        if ref.is_current:
            return ref
    return None
