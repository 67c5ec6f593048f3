"""Changing a customer's plan mid-period (an upgrade or a downgrade).

The change ends the current assignment and starts the next at the same
instant, so each event belongs to exactly one side. When both plans bill the
same period length on the assignment's anniversary, the new assignment
continues the old billing cycle (`PlanAssignment.anchor_at`): its first
period runs to the old cycle's next boundary and both sides' base fees are
prorated by the time each covers. Moving from $30 to $90 a month a third of
the way through a 30-day period bills $10 + $60. Calendar-anchored plans
continue the calendar anyway; a change of period length starts a new cycle.

`preview_plan_change` computes both sides before anything is written, from
unsaved assignments, with the same builder the invoices use, so what the
operator confirms is what will be billed (at today's prices and usage).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from customers.models import PlanAssignment
from invoices.builder import Invoice as InvoiceContent
from invoices.builder import build_invoice, schedule, stored_period
from pricing.models import Plan
from pricing.periods import BillingAnchor

INSTANT = timedelta(microseconds=1)


@dataclass(frozen=True)
class PlanChangePreview:
    ending: InvoiceContent  # the current plan's period, up to the change
    starting: InvoiceContent  # the new plan's first period, from the change


def continues_cycle(old: Plan, new: Plan) -> bool:
    return (
        old.billing_period == new.billing_period
        and old.billing_anchor == new.billing_anchor == BillingAnchor.ANNIVERSARY
    )


def successor(assignment: PlanAssignment, plan: Plan, at: datetime) -> PlanAssignment:
    """The assignment the change would create (unsaved)."""
    anchor = None
    if continues_cycle(assignment.plan, plan):
        anchor = assignment.anchor_at or assignment.start_at
    return PlanAssignment(
        customer=assignment.customer,
        plan=plan,
        start_at=at,
        end_at=assignment.end_at,
        anchor_at=anchor,
    )


def preview_plan_change(
    assignment: PlanAssignment, plan: Plan, at: datetime, now: datetime
) -> PlanChangePreview:
    ended = PlanAssignment(
        pk=assignment.pk,
        customer=assignment.customer,
        plan=assignment.plan,
        start_at=assignment.start_at,
        end_at=at,
        anchor_at=assignment.anchor_at,
    )
    old_schedule = schedule(ended)
    n = old_schedule.index(at - INSTANT)
    old_period = old_schedule.at(n)
    old_ref = stored_period(ended, old_period.start, old_period.end, now)
    new = successor(assignment, plan, at)
    first = schedule(new).at(0)
    new_ref = stored_period(new, first.start, first.end, now)
    customer = assignment.customer
    return PlanChangePreview(build_invoice(customer, old_ref), build_invoice(customer, new_ref))
