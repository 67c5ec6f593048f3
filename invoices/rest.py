"""The native JSON API for invoices (mounted by billing_site/api.py).

Two views of an invoice:
- computed, at /customers/{id}/invoices[/{period}]: `invoices.builder.build_invoice`,
  the same object the customer page and the PDF render, written out as JSON:
  the three can never disagree;
- stored, at /invoices and /credit-notes: the rows of invoices/models.py. An
  issued invoice answers its stored lines and snapshot only (nothing live); a
  draft answers its stored fields and, as `usage_to_date`, its usage so far
  computed as the invoice page computes it. Every write goes through
  invoices/services.py, so the API refuses exactly what the pages refuse, as
  a 400 naming the field; the status history names the API key as the actor.
Money and quantities are strings ("0.14"), never JSON numbers.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Field, P, PathEx, QueryEx, Router, Schema, Status

from customers.models import Customer
from customers.rest import get_customer
from invoices.adjustments import invoice_summary, with_steps
from invoices.builder import (
    Invoice,
    PeriodRef,
    billing_tz,
    build_invoice,
    current_period,
)
from invoices.builder import customer_periods as periods_of
from invoices.models import CreditNote, InvoiceLine
from invoices.models import Invoice as StoredInvoice
from invoices.selection import period_by_token
from invoices.selectors import applied_credits, draft_content
from invoices.services import (
    CreditRequest,
    credit_note_create,
    credited_by_line,
    invoice_finalize,
    invoice_mark_paid,
    invoice_mark_uncollectible,
    invoice_void,
)
from pricing.invoice_steps import StepsSummary
from pricing.money import exact_sum, round_money
from pricing.rating import PricedLine, UnpricedUsage

# Objects are named by their id in paths: /customers/{id}.
ObjectId = PathEx[int, P(alias="id")]

router = Router(tags=["invoices"])


class PeriodOut(Schema):
    period: str  # how to ask for this invoice: "<assignment id>@<period start, UTC>"
    start: datetime
    end: datetime
    is_current: bool
    plan: str
    assignment_id: int


class LineOut(Schema):
    description: str
    dimensions: dict[str, str]
    quantity: str
    unit_price: str | None  # None when tiers or packages price the line
    exact_amount: str  # before rounding
    amount: str  # rounded once to the currency's minor unit
    kind: str  # usage, base_fee or minimum
    explanation: str


class SectionOut(Schema):
    meter: str
    rate_model: str
    lines: list[LineOut]
    subtotal: str


class UnpricedOut(Schema):
    meter: str
    dimensions: dict[str, str | None]
    quantity: str
    reason: str


class CustomerRef(Schema):
    id: int
    customer_id: str
    name: str


class StepRowOut(Schema):
    description: str
    amount: str


class TaxOut(Schema):
    name: str
    percentage: str  # "20" for 20%
    jurisdiction: str  # the country it taxes, "" for everywhere
    inclusive: bool  # already in the prices (then not added to the total)
    base: str  # what it taxed
    tax: str


class StepsOut(Schema):
    """From the priced lines to the invoice's total (pricing.invoice_steps):
    `charges` + one-time fees - discounts + the minimum's true-up - what a
    prepaid commitment paid = `subtotal`; + `tax_added` = `total`. Each
    amount is rounded per line, so the sums add up to the cent."""

    charges: str  # the priced lines (the sections' subtotals)
    one_time_fees: list[StepRowOut]
    discounts: list[StepRowOut]  # per coupon, what it took off
    minimum_true_up: str  # what lifts the invoice to its plan's minimum
    commitment_drawn: str  # paid from a prepaid commitment, before tax
    subtotal: str
    taxes: list[TaxOut]  # per tax rate
    tax_added: str
    tax_included: str  # of inclusive taxes: already in the subtotal
    total: str


class InvoiceOut(Schema):
    customer: CustomerRef
    plan: str
    period: PeriodOut
    currency: str
    sections: list[SectionOut]  # one per rate of the plan, with its subtotal
    unpriced: list[UnpricedOut]  # recorded but not billed, with the reason
    total: str  # the sections' sum; with steps, `steps.total` is what is charged
    steps: StepsOut | None  # null when no fee, discount, minimum or tax applies


def exact(value: Decimal) -> str:
    """Every significant digit, no exponent: `0.000010000` -> "0.00001"."""
    return format(value.normalize(), "f")


def money(amount: Decimal, currency: str) -> str:
    """An amount already rounded to the minor unit, with all its decimals:
    "0.10", and "0.00" rather than "0" for an empty sum (no value changes)."""
    return format(round_money(amount, currency), "f")


def period_json(ref: PeriodRef) -> dict[str, Any]:
    return {
        "period": ref.token,
        "start": ref.period.start,
        "end": ref.period.end,
        "is_current": ref.is_current,
        "plan": ref.assignment.plan.name,
        "assignment_id": ref.assignment.pk,
    }


def _line(line: PricedLine, currency: str) -> dict[str, Any]:
    return {
        "description": line.description,
        "dimensions": dict(line.dimensions),
        "quantity": exact(line.quantity),
        "unit_price": None if line.unit_price is None else exact(line.unit_price),
        "exact_amount": exact(line.exact_amount),
        "amount": money(line.amount, currency),
        "kind": line.kind.value,
        "explanation": line.explanation,
    }


def _unpriced(usage: UnpricedUsage) -> dict[str, Any]:
    return {
        "meter": usage.meter_label,
        "dimensions": dict(usage.dimensions),
        "quantity": exact(usage.quantity),
        "reason": usage.reason,
    }


def steps_json(steps: StepsSummary | None, currency: str) -> dict[str, Any] | None:
    """An invoice's steps, or None when none did anything."""
    if steps is None or not steps.shown:
        return None
    return {
        "charges": money(steps.charges, currency),
        "one_time_fees": [
            {"description": f.description, "amount": money(f.amount, currency)} for f in steps.fees
        ],
        "discounts": [
            {"description": d.description, "amount": money(d.amount, currency)}
            for d in steps.discounts
        ],
        "minimum_true_up": money(steps.minimum_true_up, currency),
        "commitment_drawn": money(steps.commitment_drawn, currency),
        "subtotal": money(steps.subtotal, currency),
        "taxes": [
            {
                "name": t.name,
                "percentage": exact(t.percentage),
                "jurisdiction": t.jurisdiction,
                "inclusive": t.inclusive,
                "base": money(t.base, currency),
                "tax": money(t.tax, currency),
            }
            for t in steps.taxes
        ],
        "tax_added": money(steps.tax_added, currency),
        "tax_included": money(steps.tax_included, currency),
        "total": money(steps.total, currency),
    }


def invoice_json(invoice: Invoice) -> dict[str, Any]:
    currency, customer = invoice.currency, invoice.customer
    return {
        "customer": {"id": customer.pk, "customer_id": customer.customer_id, "name": customer.name},
        "plan": invoice.plan_name,
        "period": period_json(invoice.ref),
        "currency": currency,
        "sections": [
            {
                "meter": s.meter_label,
                "rate_model": s.rate_model,
                "lines": [_line(line, currency) for line in s.lines],
                "subtotal": money(s.subtotal, currency),
            }
            for s in invoice.sections
        ],
        "unpriced": [_unpriced(u) for u in invoice.unpriced],
        "total": money(invoice.total, currency),
        "steps": steps_json(invoice.steps, currency),
    }


def _find(customer: Customer, period: str, now: datetime) -> PeriodRef | None:
    if period == "current":
        return current_period(customer, now)
    return period_by_token(customer, period, now)


# /customers/<id>/invoices


@router.get(
    "/customers/{id}/invoices",
    response=list[PeriodOut],
    summary="List a customer's billing periods",
)
def invoice_list(request: HttpRequest, pk: ObjectId) -> list[dict[str, Any]]:
    """The customer's billing periods: the current one and every earlier one
    with usage, newest first. `period` names each one's invoice."""
    customer = get_customer(pk)
    return [period_json(ref) for ref in periods_of(customer, timezone.now())]


@router.get("/customers/{id}/invoices/{period}", response=InvoiceOut, summary="Get an invoice")
def invoice_detail(request: HttpRequest, period: str, pk: ObjectId) -> dict[str, Any]:
    """One invoice as JSON: `period` is a period from the list, or `current`.
    Computed by the same code as the customer page and the PDF."""
    customer = get_customer(pk)
    ref = _find(customer, period, timezone.now())
    if ref is None:
        raise Http404(f"{customer.name} has no invoice for the period {period!r}.")
    return invoice_json(with_steps(build_invoice(customer, ref)))


# Stored invoices: /invoices and /credit-notes ------------------------------------

MAX_INVOICES_PAGE = 500
STATUSES = ", ".join(StoredInvoice.Status.values)


class InvoiceSummary(Schema):
    id: int
    number: str | None  # null while a draft
    status: str  # draft, open, paid, void or uncollectible
    on_hold: bool  # a held draft is left alone by period close
    customer: CustomerRef
    plan: str
    currency: str
    period_start: datetime
    period_end: datetime
    issue_date: date | None
    due_date: date | None
    total: str | None  # null while a draft
    amount_due: (
        str | None
    )  # total - credits_applied: what the customer is asked to pay; null while a draft


class InvoicePage(Schema):
    count: int
    limit: int
    offset: int
    items: list[InvoiceSummary]


class SnapshotOut(Schema):
    """Frozen at finalization; empty strings while a draft."""

    customer_name: str
    customer_id: str
    customer_email: str
    customer_address: str
    seller_name: str
    seller_address: str
    plan_name: str
    # The locale its amounts and dates are written in (pricing.locales).
    locale: str


class StoredLineOut(Schema):
    position: int
    kind: str  # usage, base_fee or minimum
    section: str  # the meter's label when invoiced
    section_detail: str  # the rate's model
    description: str
    dimensions: dict[str, str]
    quantity: str
    unit_price: str | None
    explanation: str
    exact_amount: str
    amount: str
    credited: str  # what credit notes have taken off this line
    late_for: str | None  # late usage: the number of the invoice whose period it belongs to


class NoteRef(Schema):
    id: int
    number: str
    total: str


class StatusChangeOut(Schema):
    from_status: str  # "" for the first change
    to_status: str
    at: datetime
    actor: str  # a username, "key <name> (<prefix>…)" for an API key, or the system job
    note: str


class AppliedCreditOut(Schema):
    grant_id: int
    description: str
    amount: str


class StoredInvoiceOut(Schema):
    id: int
    number: str | None
    status: str
    on_hold: bool
    customer: CustomerRef
    currency: str
    period_start: datetime
    period_end: datetime
    usage_end: datetime | None
    issue_date: date | None
    due_date: date | None
    net_terms_days: int | None
    finalized_at: datetime | None
    snapshot: SnapshotOut
    total: str | None  # null while a draft
    amount_due: str | None  # total - credits_applied: what is asked; null while a draft
    credits_applied: str | None  # prepaid credit drawn at finalization; null while a draft
    credits: list[AppliedCreditOut]  # the grants it was drawn from; empty while a draft
    credited: str
    remaining: str | None  # total - credited; null while a draft
    paid_at: date | None
    payment_reference: str
    voided_at: datetime | None
    void_reason: str
    uncollectible_at: datetime | None
    lines: list[StoredLineOut]  # empty while a draft
    steps: StepsOut | None  # as issued; null while a draft (see usage_to_date) or if none
    credit_notes: list[NoteRef]
    history: list[StatusChangeOut]
    usage_to_date: InvoiceOut | None  # a draft's usage so far, computed; null once issued


class CreditNoteLineOut(Schema):
    line: int | None  # the invoice line's position; null: off the whole invoice
    description: str
    amount: str


class InvoiceRef(Schema):
    id: int
    number: str | None


class CreditNoteOut(Schema):
    id: int
    number: str
    invoice: InvoiceRef
    issued_at: datetime
    reason: str
    currency: str
    total: str
    created_by: str
    lines: list[CreditNoteLineOut]


class PayIn(Schema):
    paid_on: date
    reference: str = ""


class VoidIn(Schema):
    reason: str


class CreditLineIn(Schema):
    line: int | None = Field(
        None, description="The invoice line's position; null: an amount off the whole invoice."
    )
    amount: Decimal = Field(description='A decimal string, e.g. "0.05".')


class CreditNoteIn(Schema):
    reason: str
    lines: list[CreditLineIn]


def actor_of(request: HttpRequest) -> str:
    """The API key, named as the audit trail names it (billing_site/audit.py)."""
    return f"key {getattr(request, 'auth', None)}"


def _stored(pk: int) -> StoredInvoice:
    invoice = (
        StoredInvoice.objects.select_related("customer", "assignment__plan", "plan")
        .filter(pk=pk)
        .first()
    )
    if invoice is None:
        raise Http404(f"No invoice with id {pk}.")
    return invoice


def _amount(value: Decimal | None, currency: str) -> str | None:
    return None if value is None else money(value, currency)


def customer_ref(customer: Customer) -> dict[str, Any]:
    return {"id": customer.pk, "customer_id": customer.customer_id, "name": customer.name}


def _summary_json(invoice: StoredInvoice) -> dict[str, Any]:
    return {
        "id": invoice.pk,
        "number": invoice.number,
        "status": invoice.status,
        "on_hold": invoice.on_hold,
        "customer": customer_ref(invoice.customer),
        "plan": invoice.plan_name or invoice.plan.name,
        "currency": invoice.currency,
        "period_start": invoice.period_start,
        "period_end": invoice.period_end,
        "issue_date": invoice.issue_date,
        "due_date": invoice.due_date,
        "total": _amount(invoice.total, invoice.currency),
        "amount_due": _amount(invoice.due, invoice.currency),
    }


def _stored_line_json(line: InvoiceLine, credited: Decimal, currency: str) -> dict[str, Any]:
    return {
        "position": line.position,
        "kind": line.kind,
        "section": line.section,
        "section_detail": line.section_detail,
        "description": line.description,
        "dimensions": {str(name): str(value) for name, value in line.dimensions},
        "quantity": exact(line.quantity),
        "unit_price": None if line.unit_price is None else exact(line.unit_price),
        "explanation": line.explanation,
        "exact_amount": exact(line.exact_amount),
        "amount": money(line.amount, currency),
        "credited": money(credited, currency),
        "late_for": line.late_for.number if line.late_for is not None else None,
    }


def stored_invoice_json(invoice: StoredInvoice) -> dict[str, Any]:
    currency, draft = invoice.currency, invoice.is_draft
    credited = {} if draft else credited_by_line(invoice)
    credit_total = exact_sum(credited.values())
    rows = [] if draft else list(invoice.lines.select_related("late_for").order_by("position"))
    lines = [_stored_line_json(line, credited.get(line.pk, Decimal(0)), currency) for line in rows]
    steps = None if draft else invoice_summary(invoice, exact_sum(line.amount for line in rows))
    drawn, _ = ((), False) if draft else applied_credits(invoice)
    return {
        **_summary_json(invoice),
        "credits_applied": None if draft else money(exact_sum(c.amount for c in drawn), currency),
        "credits": [
            {
                "grant_id": c.grant_id,
                "description": c.description,
                "amount": money(c.amount, currency),
            }
            for c in drawn
        ],
        "usage_end": invoice.usage_end,
        "net_terms_days": invoice.net_terms_days,
        "finalized_at": invoice.finalized_at,
        "snapshot": {
            "customer_name": invoice.customer_name,
            "customer_id": invoice.customer_external_id,
            "customer_email": invoice.customer_email,
            "customer_address": invoice.customer_address,
            "seller_name": invoice.seller_name,
            "seller_address": invoice.seller_address,
            "plan_name": invoice.plan_name,
            "plan_version": invoice.plan_version,
            "locale": "" if invoice.is_draft else invoice.locale,
        },
        "credited": money(credit_total, currency),
        "remaining": None
        if invoice.total is None
        else money(invoice.total - credit_total, currency),
        "paid_at": invoice.paid_at,
        "payment_reference": invoice.payment_reference,
        "voided_at": invoice.voided_at,
        "void_reason": invoice.void_reason,
        "uncollectible_at": invoice.uncollectible_at,
        "lines": lines,
        "steps": steps_json(steps, currency),
        "credit_notes": [
            {"id": note.pk, "number": note.number, "total": money(note.total, note.currency)}
            for note in invoice.credit_notes.all()
        ],
        "history": [
            {
                "from_status": change.from_status,
                "to_status": change.to_status,
                "at": change.at,
                "actor": change.actor,
                "note": change.note,
            }
            for change in invoice.changes.all()
        ],
        "usage_to_date": invoice_json(draft_content(invoice, timezone.now())) if draft else None,
    }


def credit_note_json(note: CreditNote) -> dict[str, Any]:
    return {
        "id": note.pk,
        "number": note.number,
        "invoice": {"id": note.invoice.pk, "number": note.invoice.number},
        "issued_at": note.issued_at,
        "reason": note.reason,
        "currency": note.currency,
        "total": money(note.total, note.currency),
        "created_by": note.created_by,
        "lines": [
            {
                "line": line.invoice_line.position if line.invoice_line is not None else None,
                "description": line.description,
                "amount": money(line.amount, note.currency),
            }
            for line in note.lines.select_related("invoice_line")
        ],
    }


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=billing_tz())


# /invoices


@router.get("/invoices", response=InvoicePage, summary="List stored invoices")
def stored_invoice_list(
    request: HttpRequest,
    status: str = "",
    customer: str = "",
    period_start_from: date | None = None,
    period_start_to: date | None = None,
    limit: QueryEx[int, P(ge=1, le=MAX_INVOICES_PAGE)] = 100,
    offset: QueryEx[int, P(ge=0)] = 0,
) -> dict[str, Any]:
    """Stored invoices (drafts and issued), newest period first, `limit` at a
    time from `offset`; `count` is the total. Filters: `status` (draft, open,
    paid, void, uncollectible), `customer` (your own customer ID), and the
    period's start date, in the billing time zone, from `period_start_from`
    to `period_start_to` (both included, ISO dates)."""
    invoices = StoredInvoice.objects.select_related("customer", "plan").order_by(
        "-period_start", "-pk"
    )
    if status:
        if status not in StoredInvoice.Status.values:
            raise ValidationError({"status": f"unknown status {status!r}; one of {STATUSES}"})
        invoices = invoices.filter(status=status)
    if customer:
        invoices = invoices.filter(customer__customer_id=customer)
    if period_start_from and period_start_to and period_start_to < period_start_from:
        raise ValidationError({"period_start_to": "is before period_start_from"})
    if period_start_from is not None:
        invoices = invoices.filter(period_start__gte=_day_start(period_start_from))
    if period_start_to is not None:
        invoices = invoices.filter(period_start__lt=_day_start(period_start_to + timedelta(days=1)))
    return {
        "count": invoices.count(),
        "limit": limit,
        "offset": offset,
        "items": [_summary_json(i) for i in invoices[offset : offset + limit]],
    }


@router.get("/invoices/{id}", response=StoredInvoiceOut, summary="Get a stored invoice")
def stored_invoice_detail(request: HttpRequest, pk: ObjectId) -> dict[str, Any]:
    """The stored invoice. Once issued: its number, dates, snapshot, lines,
    total, what credit notes took off it and its history, exactly as issued.
    A draft has no lines and no total yet: `usage_to_date` is its usage so
    far, computed as the invoice page computes it."""
    return stored_invoice_json(_stored(pk))


@router.post(
    "/invoices/{id}/finalize", response=StoredInvoiceOut, summary="Finalize a draft invoice"
)
def stored_invoice_finalize(request: HttpRequest, pk: ObjectId) -> dict[str, Any]:
    """Issue the draft now: its lines are stored, it takes the next invoice
    number, and it never changes again. Refused (400) while its period runs.
    An invoice already issued is answered unchanged. Its PDF is rendered by
    the background job."""
    invoice = invoice_finalize(invoice=_stored(pk), now=timezone.now(), actor=actor_of(request))
    return stored_invoice_json(_stored(invoice.pk))


@router.post("/invoices/{id}/pay", response=StoredInvoiceOut, summary="Record a payment")
def stored_invoice_pay(request: HttpRequest, pk: ObjectId, payload: PayIn) -> dict[str, Any]:
    """Mark an open (or uncollectible) invoice paid on `paid_on` (not in the
    future), with an optional `reference`."""
    invoice_mark_paid(
        invoice=_stored(pk),
        paid_on=payload.paid_on,
        reference=payload.reference,
        now=timezone.now(),
        actor=actor_of(request),
    )
    return stored_invoice_json(_stored(pk))


@router.post("/invoices/{id}/void", response=StoredInvoiceOut, summary="Void an invoice")
def stored_invoice_void(request: HttpRequest, pk: ObjectId, payload: VoidIn) -> dict[str, Any]:
    """Cancel an open or uncollectible invoice, saying why (`reason`). Its
    number stays used; nothing is deleted."""
    invoice_void(
        invoice=_stored(pk), reason=payload.reason, now=timezone.now(), actor=actor_of(request)
    )
    return stored_invoice_json(_stored(pk))


@router.post(
    "/invoices/{id}/uncollectible",
    response=StoredInvoiceOut,
    summary="Mark an invoice uncollectible",
)
def stored_invoice_uncollectible(request: HttpRequest, pk: ObjectId) -> dict[str, Any]:
    """Mark an open invoice uncollectible; it may still be paid or voided."""
    invoice_mark_uncollectible(invoice=_stored(pk), now=timezone.now(), actor=actor_of(request))
    return stored_invoice_json(_stored(pk))


@router.post(
    "/invoices/{id}/credit-notes",
    response={201: CreditNoteOut},
    summary="Issue a credit note",
)
def credit_note_add(
    request: HttpRequest, pk: ObjectId, payload: CreditNoteIn
) -> Status[dict[str, Any]]:
    """Credit part or all of an issued, not void, invoice: each of `lines`
    credits `amount` (a decimal string in the currency's minor unit) off the
    invoice line at `line` (its position), or off the whole invoice when
    `line` is null. No line is credited beyond its amount, nor the invoice
    beyond its total, even by requests at the same moment."""
    invoice = _stored(pk)
    by_position = {line.position: line for line in invoice.lines.all()}
    requests: list[CreditRequest] = []
    seen: set[int] = set()
    for n, item in enumerate(payload.lines):
        line = None
        if item.line is not None:
            line = by_position.get(item.line)
            if line is None:
                raise ValidationError({f"lines[{n}].line": f"the invoice has no line {item.line}"})
            if item.line in seen:
                raise ValidationError({f"lines[{n}].line": f"line {item.line} is listed twice"})
            seen.add(item.line)
        requests.append(CreditRequest(line, item.amount))
    note = credit_note_create(
        invoice=invoice,
        requests=requests,
        reason=payload.reason,
        now=timezone.now(),
        actor=actor_of(request),
    )
    return Status(201, credit_note_json(note))


# /credit-notes


@router.get("/credit-notes/{id}", response=CreditNoteOut, summary="Get a credit note")
def credit_note_detail(request: HttpRequest, pk: ObjectId) -> dict[str, Any]:
    """The credit note: its number, the invoice it corrects, its reason and
    lines (`line` is the invoice line's position, null for an amount off the
    whole invoice)."""
    note = CreditNote.objects.select_related("invoice").filter(pk=pk).first()
    if note is None:
        raise Http404(f"No credit note with id {pk}.")
    return credit_note_json(note)
