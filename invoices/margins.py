"""Cost and margin on invoices: which cost plan costs a customer's usage,
and each line's cost beside its price (pricing.costing does the arithmetic).

- A customer's usage is costed by their own cost plan (Customer.cost_plan),
  else by the default cost plan (Plan.is_default_cost); with neither, every
  line is "no cost known". A cost plan in another currency than the invoice
  knows no cost either (Tally does not convert currencies).
- Cost plans are effective-dated (pricing.versions.cost_windows): usage is
  costed by the version in effect when it happened, so a period across a
  provider's price change is costed in stretches, each by its own prices,
  and each line rounded once (pricing.costing.windowed_cost_lines). Late
  usage is costed by the cost prices in effect now.
- Drafts are costed as their usage arrives; finalization stores each line's
  cost as it was then (InvoiceLine.cost), and an issued invoice shows what
  it stored.
- Only people who may see costs (pricing.see_costs) are shown them; the PDF
  and the customer-facing API never carry them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from fractions import Fraction

from django.db.models import Q

from customers.models import Customer
from invoices.builder import Invoice as InvoiceContent
from invoices.builder import InvoiceSection
from meters.models import Meter
from meters.selectors import customer_usage
from pricing.costing import CostWindow, MeterCost, windowed_cost_lines
from pricing.models import Plan, PlanVersion
from pricing.rating import Aggregation, LineKind, RateSpec
from pricing.selectors import rate_spec, version_rates
from pricing.versions import cost_windows


class Coster:
    """Costs the invoices of `customers`: two queries for the cost plans, one
    per cost plan used for its versions and one per version for its rates,
    however many invoices; a period across a price change costs one usage
    query per stretch more. `received_until` counts the events received up
    to then, as finalization's cutoff does."""

    def __init__(
        self, customers: Iterable[Customer], *, received_until: datetime | None = None
    ) -> None:
        wanted = {c.cost_plan_id for c in customers if c.cost_plan_id is not None}
        plans = Plan.objects.filter(kind=Plan.Kind.COST)
        self.default = plans.filter(is_default_cost=True).first()
        self.plans = {p.pk: p for p in plans.filter(pk__in=wanted)} if wanted else {}
        self.received_until = received_until
        self._versions: dict[int, list[PlanVersion]] = {}
        self._rates: dict[int, dict[int, RateSpec]] = {}
        self._meters: dict[int, Meter] = {}

    def plan_for(self, customer: Customer) -> Plan | None:
        if customer.cost_plan_id is not None:
            return self.plans.get(customer.cost_plan_id)
        return self.default

    def rates(self, version_id: int) -> dict[int, RateSpec]:
        """A cost version's rates, by meter id."""
        if version_id not in self._rates:
            self._rates[version_id] = {
                rate.meter_id: rate_spec(rate) for rate in version_rates(version_id)
            }
        return self._rates[version_id]

    def _meter(self, pk: int) -> Meter:
        if pk not in self._meters:
            self._meters[pk] = Meter.objects.get(pk=pk)
        return self._meters[pk]

    def versions(self, plan: Plan) -> list[PlanVersion]:
        if plan.pk not in self._versions:
            self._versions[plan.pk] = list(PlanVersion.objects.filter(plan=plan))
        return self._versions[plan.pk]

    def section_cost(
        self,
        customer: Customer,
        section: InvoiceSection,
        currency: str,
        coverage: Fraction,
        period: tuple[datetime, datetime] | None = None,
    ) -> MeterCost:
        """The section's line costs; `period` is the usage's [start, end),
        None for late usage (costed by today's cost prices)."""
        plan = self.plan_for(customer)
        windows = [CostWindow(section.parts, None)]
        if plan is not None and plan.currency == currency:
            windows = self._windows(customer, plan, section, period)
        return windowed_cost_lines(
            Aggregation(section.aggregation) if section.aggregation else Aggregation.SUM,
            windows,
            section.dimensions,
            section.lines,
            currency,
            coverage,
        )

    def _windows(
        self,
        customer: Customer,
        plan: Plan,
        section: InvoiceSection,
        period: tuple[datetime, datetime] | None,
    ) -> list[CostWindow]:
        versions = self.versions(plan)
        by_number = {v.number: v for v in versions}
        if period is None:
            current = plan.current_version_id
            rate = self.rates(current).get(section.meter_id) if current else None
            return [CostWindow(section.parts, rate)]
        spans = cost_windows([v.rule for v in versions], *period)
        if len(spans) == 1:
            [(rule, _, _)] = spans
            rate = self.rates(by_number[rule.number].pk).get(section.meter_id)
            return [CostWindow(section.parts, rate)]
        meter = self._meter(section.meter_id)
        windows = []
        for rule, start, end in spans:
            window = Q(event_time__gte=start, event_time__lt=end)
            if self.received_until is not None:
                window &= Q(received_at__lte=self.received_until)
            parts = customer_usage([meter], customer.customer_id, window)[meter.pk]
            rate = self.rates(by_number[rule.number].pk).get(section.meter_id)
            windows.append(CostWindow(parts, rate))
        return windows

    def costed(self, content: InvoiceContent) -> InvoiceContent:
        """The computed invoice with each section's line costs (late usage
        sections, whose lines say so, by today's cost prices)."""
        ref = content.ref
        period = (ref.period.start, ref.usage_end)
        sections = [
            replace(
                section,
                costs=self.section_cost(
                    content.customer,
                    section,
                    content.currency,
                    ref.coverage,
                    None if _is_late(section) else period,
                ).lines,
            )
            for section in content.sections
        ]
        return replace(content, sections=sections)


def _is_late(section: InvoiceSection) -> bool:
    return any(line.kind is LineKind.LATE_USAGE for line in section.lines)


def with_costs(content: InvoiceContent) -> InvoiceContent:
    return Coster([content.customer]).costed(content)
