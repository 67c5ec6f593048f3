"""Prepaid commitments: bought up front on their own invoice, drawn down by
usage. Each write is atomic and keyword-only.

The rules (docs/PRICING.md, "Prepaid commitments"):
- A commitment belongs to one plan assignment, in its plan's currency: an
  amount (say $12,000) for a term (say a year from the assignment's start),
  bought at a discount (say 15%).
- Making it issues its invoice at once (Invoice.kind "commitment"): the
  commitment as a one-time fee, the discount as a discount, and the plan's
  taxes for the customer, through the same invoice steps as every invoice
  (pricing.invoice_steps). Prepaid credit does not pay it.
- The term lies within the assignment, and an assignment's commitments do
  not overlap (checked under a lock on the assignment row).
- Each usage invoice of a period that starts within the term draws the
  commitment down, after discounts and the invoice minimum, before tax (the
  commitment was taxed when bought); what it cannot pay is overage, billed
  as priced (invoices.adjustments locks the commitment while it draws).
- Voiding the commitment's invoice ends it for invoices not yet issued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from customers.models import Customer, PlanAssignment
from invoices.adjustments import adjustment_rows, commitment_drawn
from invoices.builder import billing_tz
from invoices.models import Commitment, Invoice, InvoiceAdjustment
from invoices.services import (
    SNAPSHOT_FIELDS,
    document_number,
    freeze_snapshot,
    next_sequence,
    record_change,
    set_due,
)
from pricing.invoice_steps import Charge, Discount, DiscountKind, TaxStatus, invoice_steps
from pricing.money import MAX_AMOUNT, format_money, in_minor_units, minor_unit_exponent
from pricing.rating import LineKind
from pricing.schema import EXACT
from pricing.taxes import applicable_tax_rates

MAX_DISCOUNT_PLACES = 4
COMMITMENT_KEY = "commitment"
DISCOUNT_ID = "commitment-discount"


def _day(instant: datetime) -> str:
    return f"{instant.astimezone(billing_tz()):%-d %b %Y}"


def describe(commitment: Commitment) -> str:
    """“Prepaid commitment: $12,000.00 for 1 Jan 2026 – 1 Jan 2027”."""
    amount = format_money(commitment.amount, commitment.currency)
    term = f"{_day(commitment.starts_at)} – {_day(commitment.ends_at)}"
    return f"Prepaid commitment: {amount} for {term}"


def _checked(
    assignment: PlanAssignment,
    amount: object,
    discount_percent: object,
    starts_at: datetime,
    ends_at: datetime,
) -> tuple[Decimal, Decimal]:
    errors: dict[str, str] = {}
    currency = assignment.plan.currency
    value = discount = None
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation:
        errors["amount"] = "Enter an amount."
    if value is not None:
        if not value.is_finite() or value <= 0:
            errors["amount"] = "Commit to an amount greater than zero."
        elif value >= MAX_AMOUNT:
            errors["amount"] = f"Commit to less than {MAX_AMOUNT:,}."
        elif not in_minor_units(value, currency):
            places = minor_unit_exponent(currency)
            errors["amount"] = f"Use at most {places} decimal places in {currency}."
    try:
        discount = Decimal(str(discount_percent or 0).strip())
    except InvalidOperation:
        errors["discount_percent"] = "Enter a percentage, like 15."
    if discount is not None:
        if not discount.is_finite() or not 0 <= discount < 100:
            errors["discount_percent"] = "A discount is from 0 up to, not including, 100%."
        elif -discount.normalize(EXACT).as_tuple().exponent > MAX_DISCOUNT_PLACES:  # type: ignore[operator]
            errors["discount_percent"] = f"Use at most {MAX_DISCOUNT_PLACES} decimal places."
    if starts_at < assignment.start_at:
        errors["starts_at"] = (
            f"The plan assignment starts {_day(assignment.start_at)}: start then or later."
        )
    if ends_at <= starts_at:
        errors["ends_at"] = "The term ends after it starts."
    elif assignment.end_at is not None and ends_at > assignment.end_at:
        errors["ends_at"] = (
            f"The plan assignment ends {_day(assignment.end_at)}: end then or earlier."
        )
    if errors or value is None or discount is None:
        raise ValidationError(errors)
    return value, discount


@transaction.atomic
def commitment_create(
    *,
    assignment: PlanAssignment,
    amount: object,
    discount_percent: object = 0,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime | None = None,
    actor: str,
) -> Commitment:
    """Make the commitment and issue its invoice. ValidationError keyed by
    field (amount, discount_percent, starts_at, ends_at), nothing stored,
    when a rule above is broken."""
    now = now or timezone.now()
    value, discount = _checked(assignment, amount, discount_percent, starts_at, ends_at)
    locked = (
        PlanAssignment.objects.select_for_update()
        .select_related("plan", "customer")
        .get(pk=assignment.pk)
    )
    overlapping = locked.commitments.filter(starts_at__lt=ends_at, ends_at__gt=starts_at).exclude(
        invoice__status=Invoice.Status.VOID
    )
    if overlapping.exists():
        raise ValidationError(
            {"starts_at": "This plan assignment already has a commitment for part of that term."}
        )
    plan, customer = locked.plan, locked.customer
    invoice = Invoice.objects.create(
        kind=Invoice.Kind.COMMITMENT,
        customer=customer,
        assignment=locked,
        plan=plan,
        period_start=starts_at,
        period_end=ends_at,
        currency=plan.currency,
    )
    commitment = Commitment.objects.create(
        customer=customer,
        assignment=locked,
        currency=plan.currency,
        amount=value,
        discount_percent=discount,
        starts_at=starts_at,
        ends_at=ends_at,
        invoice=invoice,
        created_at=now,
        created_by=actor,
    )
    fee = Charge(COMMITMENT_KEY, describe(commitment), value, LineKind.BASE_FEE)
    discounts = (
        [
            Discount(
                DISCOUNT_ID,
                f"Commitment discount {discount.normalize(EXACT):f}%",
                DiscountKind.PERCENTAGE,
                discount,
            )
        ]
        if discount
        else []
    )
    steps = invoice_steps(
        currency=plan.currency,
        charges=[],
        issued_at=now,
        one_time_fees=[fee],
        discounts=discounts,
        tax_rates=applicable_tax_rates(
            list(plan.tax_rates.all()), str(customer.country.code or "")
        ),
        tax_status=TaxStatus(customer.tax_status),
    )
    InvoiceAdjustment.objects.bulk_create(adjustment_rows(invoice, steps))
    freeze_snapshot(
        invoice,
        usage_end=ends_at,
        total=steps.total,
        plan_version=plan.current_version.number if plan.current_version else 1,
        cutoff=now,
        now=now,
    )
    set_due(invoice, Decimal(0))
    invoice.sequence = next_sequence("invoice")
    assert invoice.issue_date is not None
    invoice.number = document_number(
        settings.INVOICE_NUMBER_FORMAT, invoice.sequence, invoice.issue_date
    )
    invoice.status = Invoice.Status.OPEN
    invoice.save(update_fields=[*SNAPSHOT_FIELDS, "sequence", "number", "status"])
    record_change(
        invoice, Invoice.Status.DRAFT, now=now, actor=actor, note=f"commitment, total {steps.total}"
    )
    return commitment


# Reads -------------------------------------------------------------------------


@dataclass(frozen=True)
class CommitmentView:
    """A commitment with what issued (not void) invoices have drawn from it."""

    commitment: Commitment
    drawn: Decimal
    now: datetime

    @property
    def balance(self) -> Decimal:
        left: Decimal = self.commitment.amount - self.drawn
        return max(Decimal(0), left)

    @property
    def price(self) -> Decimal | None:
        """What its invoice charged (after the discount, with tax)."""
        total: Decimal | None = self.commitment.invoice.total
        return total

    @property
    def state(self) -> str:
        commitment, now = self.commitment, self.now
        if commitment.invoice.status == Invoice.Status.VOID:
            return "void"
        if now < commitment.starts_at:
            return "scheduled"
        if now >= commitment.ends_at:
            return "ended"
        return "active" if self.balance else "used up"

    @property
    def description(self) -> str:
        return describe(self.commitment)


def customer_commitments(customer: Customer, now: datetime) -> list[CommitmentView]:
    """The customer's commitments, oldest term first, with what each has paid:
    one query, whatever their number."""
    rows = (
        Commitment.objects.filter(customer=customer)
        .select_related("invoice", "assignment__plan")
        .annotate(drawn=commitment_drawn())
        .order_by("starts_at", "pk")
    )
    return [CommitmentView(row, Decimal(row.drawn or 0), now) for row in rows]
