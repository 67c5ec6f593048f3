"""Late usage: events for a period whose invoice was already issued.

They are stored like any event and never change the issued invoice. What
happens to them is the plan's late-usage policy (pricing.periods.LateUsagePolicy):
- `bill_next` (the default): the customer's next invoice carries a line
  "Late usage for <period>" per priced line that grew;
- `report`: they are listed on the customer's billing page, not billed.

What is late is decided by receipt time, never by recomputing the issued
invoice: the invoice counted the events received up to its `usage_cutoff`;
each late-usage line records the instant of receipt it covers up to
(`late_through`), so the next one starts there. Nothing is billed twice and
nothing falls between two cutoffs.

The amount is marginal: the period priced with everything received up to the
new cutoff, minus the period priced with what was already billed, both at the
plan's prices today. For per-unit prices that is quantity × price; with tiers
it is exactly what the extra usage adds (it can be negative with volume
tiers, where more usage lowers every unit's price). Base fees and minimums are
not charged again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from django.db.models import Max, Q

from customers.models import Customer
from invoices.builder import (
    Invoice as InvoiceContent,
)
from invoices.builder import (
    InvoiceSection,
    billing_tz,
    build_invoice,
    stored_period,
)
from invoices.models import Invoice, InvoiceLine
from meters.models import UsageEvent
from pricing.money import exact_sum
from pricing.periods import LateUsagePolicy
from pricing.rating import LineKind, PartialUsage, PricedLine

ISSUED = (Invoice.Status.OPEN, Invoice.Status.PAID, Invoice.Status.UNCOLLECTIBLE)


@dataclass(frozen=True)
class LateUsage:
    """One issued invoice's usage received after it, not yet billed."""

    invoice: Invoice
    since: datetime  # received after this…
    until: datetime  # …and up to this
    sections: list[InvoiceSection]
    billable: bool  # the plan bills it on the next invoice

    @property
    def total(self) -> Decimal:
        return exact_sum(section.subtotal for section in self.sections)


def period_label(invoice: Invoice) -> str:
    tz = billing_tz()
    end = invoice.usage_end or invoice.period_end
    return f"{invoice.period_start.astimezone(tz):%-d %b %Y} – {end.astimezone(tz):%-d %b %Y}"


def _billed_through(invoices: list[Invoice]) -> dict[int, datetime]:
    """For each issued invoice, the receipt instant its usage is billed up to:
    its own cutoff, or the latest late-usage line that covered it since."""
    through = {i.pk: i.usage_cutoff for i in invoices if i.usage_cutoff is not None}
    later = (
        InvoiceLine.objects.filter(late_for__in=list(through))
        .values("late_for")
        .annotate(last=Max("late_through"))
    )
    for row in later:
        if row["last"] is not None and row["last"] > through[row["late_for"]]:
            through[row["late_for"]] = row["last"]
    return through


def pending_late_usage(
    customer: Customer, *, before: datetime, until: datetime, now: datetime
) -> list[LateUsage]:
    """Usage received after the customer's issued invoices of periods that
    started before `before`, up to `until`, that no invoice has billed yet.
    Costs one query when there is none (the common case)."""
    issued = list(
        customer.invoices.filter(
            kind=Invoice.Kind.USAGE, status__in=ISSUED, period_start__lt=before
        )
        .select_related("assignment__plan")
        .order_by("period_start")
    )
    if not issued:
        return []
    through = _billed_through(issued)
    if not through:
        return []
    first_end = min(through.values())
    if not UsageEvent.objects.filter(
        customer_id=customer.customer_id,
        event_time__lt=before,
        received_at__gt=first_end,
        received_at__lte=until,
    ).exists():
        return []
    found = []
    for invoice in issued:
        since = through.get(invoice.pk)
        if since is None or since >= until:
            continue
        window = Q(
            customer_id=customer.customer_id,
            event_time__gte=invoice.period_start,
            event_time__lt=invoice.usage_end or invoice.period_end,
            received_at__gt=since,
            received_at__lte=until,
        )
        if not UsageEvent.objects.filter(window).exists():
            continue
        sections = _marginal(customer, invoice, since, until, now)
        if sections:
            policy = LateUsagePolicy(invoice.assignment.plan.late_usage_policy)
            found.append(
                LateUsage(invoice, since, until, sections, policy is LateUsagePolicy.BILL_NEXT)
            )
    return found


def _marginal(
    customer: Customer, invoice: Invoice, since: datetime, until: datetime, now: datetime
) -> list[InvoiceSection]:
    ref = stored_period(invoice.assignment, invoice.period_start, invoice.period_end, now)
    if invoice.usage_end is not None and invoice.usage_end < ref.usage_end:
        # The assignment has since been extended; the issued period stands.
        ref = stored_period(invoice.assignment, invoice.period_start, invoice.usage_end, now)
    billed = build_invoice(customer, ref, received_until=since)
    latest = build_invoice(customer, ref, received_until=until)
    before = {
        (s.meter_id, line.description): line
        for s in billed.sections
        for line in s.lines
        if line.kind is LineKind.USAGE
    }
    billed_parts = {s.meter_id: s.parts for s in billed.sections}
    label = period_label(invoice)
    sections = []
    for section in latest.sections:
        lines = []
        for line in section.lines:
            if line.kind is not LineKind.USAGE:
                continue
            old = before.get((section.meter_id, line.description))
            quantity = line.quantity - (old.quantity if old else 0)
            amount = line.amount - (old.amount if old else 0)
            if not quantity and not amount:
                continue
            lines.append(
                PricedLine(
                    rate_id=line.rate_id,
                    description=f"Late usage for {label} · {line.description}",
                    dimensions=line.dimensions,
                    quantity=quantity,
                    unit_price=line.unit_price,
                    exact_amount=line.exact_amount - (old.exact_amount if old else 0),
                    amount=amount,
                    kind=LineKind.LATE_USAGE,
                    explanation=f"received after {invoice.number} was issued",
                )
            )
        if lines:
            sections.append(
                InvoiceSection(
                    meter_id=section.meter_id,
                    meter_label=f"Late usage · {section.meter_label}",
                    rate_model=f"for {label} ({invoice.number})",
                    lines=lines,
                    subtotal=exact_sum(li.amount for li in lines),
                    parts=_late_parts(billed_parts.get(section.meter_id, ()), section.parts),
                    dimensions=section.dimensions,
                    aggregation=section.aggregation,
                )
            )
    return sections


def _late_parts(
    billed: Sequence[PartialUsage], latest: Sequence[PartialUsage]
) -> tuple[PartialUsage, ...]:
    """The usage that arrived late, at the finest grain: what each
    combination has now less what was billed (what costing prices)."""
    before = {tuple(sorted(p.dimensions.items())): p.quantity for p in billed}
    late = []
    for part in latest:
        added = part.quantity - before.get(tuple(sorted(part.dimensions.items())), Decimal(0))
        if added:
            late.append(PartialUsage(part.dimensions, added))
    return tuple(late)


def with_late_usage(content: InvoiceContent, late: list[LateUsage]) -> InvoiceContent:
    """The draft with the late usage it will bill appended as its own
    sections: billable, and in the draft's currency (late usage of a plan in
    another currency waits for an invoice in that currency)."""
    extra = [
        section
        for item in late
        if item.billable and item.invoice.currency == content.currency
        for section in item.sections
    ]
    if not extra:
        return content
    return replace(
        content,
        sections=[*content.sections, *extra],
        total=exact_sum([content.total, *(s.subtotal for s in extra)]),
    )
