"""Writes to invoices: drafts, finalization, the lifecycle after it, credit
notes, and period close. Every write is a keyword-only, atomic function; the
pages, the API, the admin, the commands and the background job call these and
nothing else. The database backs each rule (migration 0002's triggers).

Finalization, the one step that must never be done twice or half:
1. lock the draft's row (SELECT … FOR UPDATE) and re-check it is a draft;
2. re-rate its period from usage (invoices.builder.build_invoice), run the
   invoice steps on its lines (invoices.adjustments: fees, discounts with the
   coupons given locked and counted, the invoice minimum, tax), and store the
   lines and the steps' rows; then draw prepaid credit (invoices.credits)
   against the total;
3. take the next number from the locked counter row, last, so the counter is
   held only for the few statements before COMMIT;
4. freeze the snapshot (customer, seller, plan), totals and dates.
A crash anywhere rolls all of it back: no line without a number, no number
without an invoice. Period close does the same for a window of drafts at once
(`invoice_finalize_batch`: the same builder, lines and snapshot, with a fixed
number of statements for the window and its numbers taken in one update).
The PDF is rendered after COMMIT from the stored rows
(`invoice_document_store`), since WeasyPrint's hundreds of milliseconds must
not hold the counter's lock; a stored invoice renders the same PDF whenever
it is rendered.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Field

from customers.models import Customer, PlanAssignment
from invoices.adjustments import LINE_PREFIX, Adjusted, Adjuster, charges_of_lines, line_key
from invoices.builder import Invoice as InvoiceContent
from invoices.builder import (
    InvoiceSection,
    PeriodRef,
    billing_tz,
    build_invoice,
    build_invoices,
    stored_period,
)
from invoices.credits import credits_draw, credits_return
from invoices.late_usage import ISSUED, LateUsage, pending_late_usage
from invoices.margins import Coster
from invoices.models import (
    CreditNote,
    CreditNoteDocument,
    CreditNoteLine,
    Invoice,
    InvoiceAdjustment,
    InvoiceDocument,
    InvoiceLine,
    InvoiceStatusChange,
    NumberSequence,
)
from pricing.costing import LineCost
from pricing.models import Plan
from pricing.money import exact_sum, format_money, in_minor_units, minor_unit_exponent
from pricing.periods import Period

SYSTEM = "system (period close)"
# Finalization counts the events received up to this long before it; the rest
# are late usage. Longer than an ingestion request takes from stamping its
# events' receipt time to committing them (one statement per batch of up to
# 5,000), so an event can never be stamped before the cutoff yet committed
# after finalization read the usage.
RECEIPT_MARGIN = timedelta(minutes=1)
Status = Invoice.Status


# Numbers ---------------------------------------------------------------------


def next_sequence(name: str) -> int:
    """The next value of a gapless counter. Call inside the transaction that
    uses it: the row stays locked until COMMIT, and a rollback returns it."""
    counter = NumberSequence.objects.select_for_update().filter(name=name).first()
    if counter is None:  # a database emptied after migrate (manage.py flush)
        try:
            with transaction.atomic():
                NumberSequence.objects.create(name=name)
        except IntegrityError:  # created by a concurrent finalization
            pass
        counter = NumberSequence.objects.select_for_update().get(name=name)
    value = counter.next_value
    counter.next_value = value + 1
    counter.save(update_fields=["next_value"])
    return value


def document_number(template: str, seq: int, issued: date) -> str:
    return template.format(year=issued.year, seq=seq)


# Drafts ----------------------------------------------------------------------


def draft_ensure(*, assignment: PlanAssignment, start: datetime, end: datetime) -> Invoice:
    """The invoice of the assignment's period starting at `start`, created as
    a draft when there is none. Safe against a concurrent creator: the
    database's one-invoice-per-period rule decides, and the loser reads the
    winner's row."""
    usage = Invoice.objects.filter(kind=Invoice.Kind.USAGE, assignment=assignment)
    found = usage.filter(period_start=start).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Invoice.objects.create(
                customer_id=assignment.customer_id,
                assignment=assignment,
                plan_id=assignment.plan_id,
                period_start=start,
                period_end=end,
                currency=assignment.plan.currency,
            )
    except IntegrityError:
        return usage.get(period_start=start)


def settles_at(invoice: Invoice) -> datetime:
    """When period close finalizes the draft: the end of its usage plus the
    plan's grace period, during which late events still land on it."""
    assignment = invoice.assignment
    usage_end = min(invoice.period_end, assignment.end_at or invoice.period_end)
    return usage_end + timedelta(hours=assignment.plan.grace_period_hours)


def record_change(
    invoice: Invoice, before: str, *, now: datetime, actor: str, note: str = ""
) -> None:
    InvoiceStatusChange.objects.create(
        invoice=invoice,
        from_status=before,
        to_status=invoice.status,
        at=now,
        actor=actor,
        note=note,
    )


@transaction.atomic
def invoice_hold(*, invoice: Invoice, hold: bool, now: datetime, actor: str) -> Invoice:
    """Hold a draft for review (period close leaves it alone), or release it."""
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.status != Status.DRAFT:
        raise ValidationError("Only a draft can be held or released.")
    if locked.on_hold != hold:
        locked.on_hold = hold
        locked.save(update_fields=["on_hold"])
        record_change(
            locked, locked.status, now=now, actor=actor, note="held" if hold else "released"
        )
    return locked


# Finalization ----------------------------------------------------------------


def _net_terms(customer: Customer, invoice: Invoice) -> int:
    if customer.net_terms_days is not None:
        return customer.net_terms_days
    return invoice.assignment.plan.net_terms_days


def _late(customer: Customer, invoice: Invoice, cutoff: datetime, now: datetime) -> list[LateUsage]:
    """The late usage the draft bills: billable, and in its currency."""
    return [
        item
        for item in pending_late_usage(customer, before=invoice.period_start, until=cutoff, now=now)
        if item.billable and item.invoice.currency == invoice.assignment.plan.currency
    ]


def _lines(
    invoice: Invoice, content: InvoiceContent, late: list[LateUsage], coster: Coster
) -> list[InvoiceLine]:
    """The draft's lines: its own usage, then the late usage it bills, each
    with what its usage cost (invoices.margins)."""
    customer, currency, coverage = content.customer, content.currency, content.ref.coverage
    sections: list[tuple[InvoiceSection, Invoice | None, datetime | None]] = [
        (section, None, None) for section in content.sections
    ]
    sections += [(section, item.invoice, item.until) for item in late for section in item.sections]
    period = (content.ref.period.start, content.ref.usage_end)
    rows: list[tuple[InvoiceSection, LineCost, Invoice | None, datetime | None]] = [
        (section, cost, late_for, late_through)
        for section, late_for, late_through in sections
        for cost in coster.section_cost(
            customer, section, currency, coverage, None if late_for else period
        ).lines
    ]
    return [
        InvoiceLine(
            invoice=invoice,
            position=position,
            kind=cost.line.kind.value,
            meter_id=section.meter_id,
            section=section.meter_label,
            section_detail=section.rate_model,
            dimensions=[list(pair) for pair in cost.line.dimensions],
            description=cost.line.description,
            quantity=cost.line.quantity,
            unit_price=cost.line.unit_price,
            explanation=cost.line.explanation,
            exact_amount=cost.line.exact_amount,
            amount=cost.line.amount,
            late_for=late_for,
            late_through=late_through,
            cost=cost.known_cost,
            cost_unknown_quantity=None if cost.cost is not None else cost.unknown_quantity,
        )
        for position, (section, cost, late_for, late_through) in enumerate(rows, start=1)
    ]


def _steps(
    invoice: Invoice,
    ref: PeriodRef,
    content: InvoiceContent,
    lines: list[InvoiceLine],
    adjuster: Adjuster,
) -> Adjusted:
    """The invoice steps on the lines about to be stored (invoices.adjustments),
    counting the coupons' uses and drawing the commitment down."""
    return adjuster.run(
        customer=invoice.customer,
        ref=ref,
        currency=invoice.assignment.plan.currency,
        charges=charges_of_lines(lines),
        invoice_charges=content.charges,
        commit=True,
    )


def _store_lines(
    invoice: Invoice,
    ref: PeriodRef,
    content: InvoiceContent,
    lines: list[InvoiceLine],
    adjuster: Adjuster,
) -> Decimal:
    """Store the lines and what the invoice steps did to them; the total."""
    adjusted = _steps(invoice, ref, content, lines, adjuster)
    InvoiceLine.objects.bulk_create(lines)
    InvoiceAdjustment.objects.bulk_create(adjusted.rows(invoice))
    return adjusted.steps.total


# What finalization sets on the invoice row besides its number and status.
SNAPSHOT_FIELDS = [
    "usage_end", "usage_cutoff", "issue_date", "due_date", "net_terms_days", "customer_name",
    "customer_external_id", "customer_email", "customer_address", "customer_country",
    "customer_tax_id", "customer_tax_status", "customer_locale", "seller_name",
    "seller_address", "plan_name", "plan_version", "billing_period", "currency", "total",
    "credits_applied", "amount_due", "finalized_at", "on_hold",
]  # fmt: skip


def _snapshot(
    invoice: Invoice,
    ref: PeriodRef,
    *,
    total: Decimal,
    plan_version: int,
    cutoff: datetime,
    now: datetime,
) -> None:
    """Freeze the customer, seller, plan, totals and dates on the invoice row
    (not saved; SNAPSHOT_FIELDS)."""
    freeze_snapshot(
        invoice,
        usage_end=ref.usage_end,
        total=total,
        plan_version=plan_version,
        cutoff=cutoff,
        now=now,
    )


def freeze_snapshot(
    invoice: Invoice,
    *,
    usage_end: datetime,
    total: Decimal,
    plan_version: int,
    cutoff: datetime,
    now: datetime,
) -> None:
    """`_snapshot` for any invoice: a period's, or a commitment's (whose
    `usage_end` is its term's end)."""
    customer, plan = invoice.customer, invoice.assignment.plan
    issued = now.astimezone(billing_tz()).date()
    terms = _net_terms(customer, invoice)
    invoice.usage_end = usage_end
    invoice.usage_cutoff = cutoff
    invoice.issue_date = issued
    invoice.due_date = issued + timedelta(days=terms)
    invoice.net_terms_days = terms
    invoice.customer_name = customer.name
    invoice.customer_external_id = customer.customer_id
    invoice.customer_email = customer.email
    invoice.customer_address = customer.billing_address
    invoice.customer_country = str(customer.country.code or "")
    invoice.customer_tax_id = customer.tax_id
    invoice.customer_tax_status = customer.tax_status
    invoice.customer_locale = customer.invoice_locale
    invoice.seller_name = settings.SELLER_NAME
    invoice.seller_address = settings.SELLER_ADDRESS
    invoice.plan_name = plan.name
    invoice.plan_version = plan_version
    invoice.billing_period = Period(plan.billing_period).label
    invoice.currency = plan.currency
    invoice.total = total
    invoice.finalized_at = now
    invoice.on_hold = False


def set_due(invoice: Invoice, credits_applied: Decimal) -> None:
    """The credit drawn (invoices.credits) and what is left to pay."""
    assert invoice.total is not None
    invoice.credits_applied = credits_applied
    invoice.amount_due = invoice.total - credits_applied


def invoice_finalize(*, invoice: Invoice, now: datetime, actor: str) -> Invoice:
    """Issue the draft: stored lines, a gapless number, the snapshot, the
    dates. Idempotent: an invoice already finalized comes back unchanged."""
    with transaction.atomic():
        locked = (
            Invoice.objects.select_for_update(of=("self",))
            .select_related("customer", "assignment__plan")
            .get(pk=invoice.pk)
        )
        if locked.status != Status.DRAFT:
            return locked
        ref = stored_period(locked.assignment, locked.period_start, locked.period_end, now)
        if now < ref.usage_end:
            raise ValidationError(
                f"The period runs until {ref.usage_end.astimezone(billing_tz()):%-d %b %Y %H:%M}; "
                "an invoice is finalized once its period has ended."
            )
        # Events received up to the cutoff are on this invoice; later ones are
        # late usage (invoices/late_usage.py). The margin keeps an ingestion
        # transaction still in flight at this instant from falling between.
        cutoff = now - RECEIPT_MARGIN
        content = build_invoice(locked.customer, ref, received_until=cutoff)
        late = _late(locked.customer, locked, cutoff, now)
        coster = Coster([locked.customer], received_until=cutoff)
        lines = _lines(locked, content, late, coster)
        adjuster = Adjuster([locked.customer_id], [locked.plan_id], lock=True)
        total = _store_lines(locked, ref, content, lines, adjuster)
        _snapshot(
            locked, ref, total=total, plan_version=content.plan_version, cutoff=cutoff, now=now
        )
        [applied] = credits_draw([locked], [total], now=now, actor=actor)
        set_due(locked, applied)
        assert locked.issue_date is not None
        # Last, so the counter row is locked only until the COMMIT just below.
        locked.sequence = next_sequence("invoice")
        locked.number = document_number(
            settings.INVOICE_NUMBER_FORMAT, locked.sequence, locked.issue_date
        )
        locked.status = Status.OPEN
        locked.save()
        record_change(locked, Status.DRAFT, now=now, actor=actor, note=f"total {total}")
    return locked


def _next_sequences(name: str, count: int) -> int:
    """The first of `count` consecutive values of a gapless counter, taken in
    one UPDATE (which locks the row until COMMIT, as `next_sequence`)."""
    counters = NumberSequence.objects.filter(name=name)
    if not counters.update(next_value=F("next_value") + count):
        # A database emptied after migrate (manage.py flush).
        try:
            with transaction.atomic():
                NumberSequence.objects.create(name=name)
        except IntegrityError:  # created by a concurrent finalization
            pass
        counters.update(next_value=F("next_value") + count)
    return counters.values_list("next_value", flat=True).get() - count


def _save_rows(invoices: list[Invoice], fields: list[str]) -> None:
    """Write `fields` of each of `invoices`: on PostgreSQL in one `UPDATE …
    FROM (VALUES …)`, each value cast to its column's type (a save each costs
    a third of a batch's time); elsewhere a save each."""
    if connection.vendor != "postgresql":
        for invoice in invoices:
            invoice.save(update_fields=fields)
        return
    meta = Invoice._meta
    columns: list[tuple[str, Field[Any, Any]]] = []
    for name in ["id", *fields]:
        field = meta.get_field(name)
        assert isinstance(field, Field) and field.column
        columns.append((connection.ops.quote_name(field.column), field))
    row = "(" + ", ".join(f"%s::{field.db_type(connection)}" for _, field in columns) + ")"
    table, (pk, _) = connection.ops.quote_name(meta.db_table), columns[0]
    sql = (
        f"UPDATE {table} SET {', '.join(f'{c} = v.{c}' for c, _ in columns[1:])} "
        f"FROM (VALUES {', '.join([row] * len(invoices))}) "
        f"AS v ({', '.join(c for c, _ in columns)}) WHERE {table}.{pk} = v.{pk}"
    )
    params = [
        field.get_db_prep_save(getattr(invoice, field.attname), connection)
        for invoice in invoices
        for _, field in columns
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        assert cursor.rowcount == len(invoices)


def invoice_finalize_batch(*, invoices: Sequence[int], now: datetime, actor: str) -> list[Invoice]:
    """`invoice_finalize` for many drafts (by id) in one transaction, with a
    number of statements that does not grow with theirs: it issues those that
    are drafts, not held, not locked by another transaction (SKIP LOCKED: the
    other one is finalizing them) and whose period has ended, and skips the
    rest. The stored invoices are exactly what finalizing each alone gives
    (the same builder, lines and snapshot); the numbers are consecutive in id
    order, taken last in one statement. Returns the invoices issued."""
    with transaction.atomic():
        candidates = (
            Invoice.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("customer", "assignment__plan")
            .filter(pk__in=list(invoices), status=Status.DRAFT, on_hold=False)
            .order_by("pk")
        )
        locked: list[Invoice] = []
        refs: list[PeriodRef] = []
        for draft in candidates:
            ref = stored_period(draft.assignment, draft.period_start, draft.period_end, now)
            if now >= ref.usage_end:
                locked.append(draft)
                refs.append(ref)
        if not locked:
            return []
        cutoff = now - RECEIPT_MARGIN
        contents = build_invoices(
            [(draft.customer, ref) for draft, ref in zip(locked, refs, strict=True)],
            received_until=cutoff,
        )
        # Late usage can only follow an issued invoice: one query finds the
        # customers that have one, and only theirs is looked for.
        issued_to = set(
            Invoice.objects.filter(
                customer_id__in={draft.customer_id for draft in locked}, status__in=ISSUED
            ).values_list("customer_id", flat=True)
        )
        adjuster = Adjuster(
            [draft.customer_id for draft in locked], [draft.plan_id for draft in locked], lock=True
        )
        coster = Coster([draft.customer for draft in locked], received_until=cutoff)
        lines: list[InvoiceLine] = []
        adjustments: list[InvoiceAdjustment] = []
        totals: list[Decimal] = []
        for draft, ref, content in zip(locked, refs, contents, strict=True):
            late = (
                _late(draft.customer, draft, cutoff, now) if draft.customer_id in issued_to else []
            )
            draft_lines = _lines(draft, content, late, coster)
            adjusted = _steps(draft, ref, content, draft_lines, adjuster)
            lines += draft_lines
            adjustments += adjusted.rows(draft)
            totals.append(adjusted.steps.total)
        InvoiceLine.objects.bulk_create(lines)
        InvoiceAdjustment.objects.bulk_create(adjustments)
        for draft, ref, total, content in zip(locked, refs, totals, contents, strict=True):
            version = content.plan_version
            _snapshot(draft, ref, total=total, plan_version=version, cutoff=cutoff, now=now)
        for draft, applied in zip(
            locked, credits_draw(locked, totals, now=now, actor=actor), strict=True
        ):
            set_due(draft, applied)
        # Last, so the counter row is locked only until the COMMIT just below.
        first = _next_sequences("invoice", len(locked))
        for n, draft in enumerate(locked):
            draft.sequence = first + n
            assert draft.issue_date is not None
            draft.number = document_number(
                settings.INVOICE_NUMBER_FORMAT, draft.sequence, draft.issue_date
            )
            draft.status = Status.OPEN
        _save_rows(locked, [*SNAPSHOT_FIELDS, "sequence", "number", "status"])
        InvoiceStatusChange.objects.bulk_create(
            InvoiceStatusChange(
                invoice=draft,
                from_status=Status.DRAFT,
                to_status=draft.status,
                at=now,
                actor=actor,
                note=f"total {draft.total}",
            )
            for draft in locked
        )
    return locked


# After finalization ------------------------------------------------------------


def _move(
    invoice: Invoice, to: str, *, now: datetime, actor: str, note: str, **fields: object
) -> Invoice:
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        before = locked.status
        allowed = {
            Status.OPEN: {Status.PAID, Status.VOID, Status.UNCOLLECTIBLE},
            Status.UNCOLLECTIBLE: {Status.PAID, Status.VOID},
        }.get(Status(before), set())
        if to not in allowed:
            raise ValidationError(
                f"A {Status(before).label.lower()} invoice cannot be marked "
                f"{Status(to).label.lower()}."
            )
        locked.status = to
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.save(update_fields=["status", *fields])
        record_change(locked, before, now=now, actor=actor, note=note)
    return locked


def invoice_void(*, invoice: Invoice, reason: str, now: datetime, actor: str) -> Invoice:
    """Cancel an issued invoice. Its number stays used; nothing is deleted."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the invoice is voided."})
    with transaction.atomic():
        voided = _move(invoice, Status.VOID, now=now, actor=actor, note=reason,
                       voided_at=now, void_reason=reason)  # fmt: skip
        credits_return(invoice=voided, now=now, actor=actor)
    return voided


def invoice_mark_paid(
    *, invoice: Invoice, paid_on: date, reference: str, now: datetime, actor: str
) -> Invoice:
    reference = reference.strip()
    if paid_on > now.astimezone(billing_tz()).date():
        raise ValidationError({"paid_on": "That date is in the future."})
    if invoice.issue_date and paid_on < invoice.issue_date - timedelta(days=366):
        raise ValidationError(
            {"paid_on": "That is more than a year before the invoice was issued."}
        )
    note = f"paid {paid_on:%Y-%m-%d}" + (f", reference {reference}" if reference else "")
    return _move(invoice, Status.PAID, now=now, actor=actor, note=note,
                 paid_at=paid_on, payment_reference=reference)  # fmt: skip


def invoice_mark_uncollectible(*, invoice: Invoice, now: datetime, actor: str) -> Invoice:
    return _move(invoice, Status.UNCOLLECTIBLE, now=now, actor=actor, note="",
                 uncollectible_at=now)  # fmt: skip


# Credit notes ------------------------------------------------------------------


@dataclass(frozen=True)
class CreditRequest:
    """One line of a credit note: an invoice line (or None for an amount off
    the whole invoice) and the amount credited."""

    invoice_line: InvoiceLine | None
    amount: Decimal
    description: str = ""


def credited_by_line(invoice: Invoice) -> dict[int | None, Decimal]:
    """What credit notes have taken off each line (None: off the whole)."""
    credited: dict[int | None, Decimal] = {}
    for line in CreditNoteLine.objects.filter(credit_note__invoice=invoice):
        credited[line.invoice_line_id] = exact_sum(
            [credited.get(line.invoice_line_id, Decimal(0)), line.amount]
        )
    return credited


def billed_by_line(invoice: Invoice) -> dict[int, Decimal]:
    """What the customer was charged for each line: its amount, less the
    discounts on it, plus the tax added on it (tax included in a price is
    already in the amount). One query for the lines, one for the steps."""
    lines = list(invoice.lines.order_by("position"))
    change: dict[str, Decimal] = {}
    for adjustment in invoice.adjustments.filter(line_key__startswith=LINE_PREFIX):
        sign = {InvoiceAdjustment.Kind.DISCOUNT: -1, InvoiceAdjustment.Kind.TAX: 1}.get(
            InvoiceAdjustment.Kind(adjustment.kind), 0
        )
        if adjustment.inclusive:
            sign = 0
        change[adjustment.line_key] = (
            change.get(adjustment.line_key, Decimal(0)) + sign * adjustment.amount
        )
    return {
        line.pk: line.amount + change.get(line_key(line.position), Decimal(0)) for line in lines
    }


def credit_note_create(
    *, invoice: Invoice, requests: Sequence[CreditRequest], reason: str, now: datetime, actor: str
) -> CreditNote:
    """Credit part or all of an issued invoice. No line is credited beyond
    what was charged for it (`billed_by_line`: after its discounts, with its
    tax) and the invoice never beyond its total; the invoice row is locked,
    so two credit notes at once cannot together exceed it."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the credit is given."})
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if locked.status not in (Status.OPEN, Status.PAID, Status.UNCOLLECTIBLE):
            raise ValidationError("Only an issued invoice that is not void can be credited.")
        wanted = [r for r in requests if r.amount]
        if not wanted:
            raise ValidationError({"amount": "Credit an amount greater than zero."})
        credited = credited_by_line(locked)
        billed = billed_by_line(locked)
        total_credited = exact_sum(credited.values())
        assert locked.total is not None
        remaining = locked.total - total_credited
        currency = locked.currency
        for r in wanted:
            places = minor_unit_exponent(currency)
            if not r.amount.is_finite() or r.amount < 0 or not in_minor_units(r.amount, currency):
                raise ValidationError(
                    {
                        "amount": f"Amounts are positive, with at most {places} decimal places "
                        f"in {currency}."
                    }  # fmt: skip
                )
            if r.invoice_line is not None:
                if r.invoice_line.invoice_id != locked.pk:
                    raise ValidationError({"line": "That line is not on this invoice."})
                left = billed[r.invoice_line.pk] - credited.get(r.invoice_line.pk, Decimal(0))
                if r.amount > left:
                    raise ValidationError(
                        {
                            "amount": f"{r.invoice_line.description}: at most "
                            f"{format_money(left, currency)} is left to credit."
                        }  # fmt: skip
                    )
        # Summed only once each amount fits: an absurd one (1E+100) is refused
        # without being added up past the exact context's digits.
        too_much = any(r.amount > remaining for r in wanted)
        asked = None if too_much else exact_sum(r.amount for r in wanted)
        if asked is None or asked > remaining:
            raise ValidationError(
                {
                    "amount": f"At most {format_money(remaining, currency)} is left to credit "
                    "on this invoice."
                }  # fmt: skip
            )
        issued = now.astimezone(billing_tz()).date()
        seq = next_sequence("credit_note")
        note = CreditNote.objects.create(
            invoice=locked,
            number=document_number(settings.CREDIT_NOTE_NUMBER_FORMAT, seq, issued),
            sequence=seq,
            issued_at=now,
            reason=reason,
            currency=currency,
            total=asked,
            created_by=actor,
        )
        CreditNoteLine.objects.bulk_create(
            CreditNoteLine(
                credit_note=note,
                invoice_line=r.invoice_line,
                description=r.description
                or (r.invoice_line.description if r.invoice_line else f"Credit on {locked.number}"),
                amount=r.amount,
            )
            for r in wanted
        )
    return note


# PDFs ----------------------------------------------------------------------------


def invoice_document_store(*, invoice: Invoice) -> InvoiceDocument:
    """The issued invoice's PDF, rendered once from its stored rows and kept."""
    from invoices.pdf import render_stored_invoice_pdf

    found = InvoiceDocument.objects.filter(invoice=invoice).first()
    if found is not None:
        return found
    if invoice.status == Status.DRAFT:
        raise ValidationError("A draft has no stored PDF; finalize it first.")
    content = render_stored_invoice_pdf(invoice)
    try:
        with transaction.atomic():
            return InvoiceDocument.objects.create(
                invoice=invoice, content=content, sha256=hashlib.sha256(content).hexdigest()
            )
    except IntegrityError:  # rendered by another process at the same time
        return InvoiceDocument.objects.get(invoice=invoice)


def credit_note_document_store(*, credit_note: CreditNote) -> CreditNoteDocument:
    """The credit note's PDF, rendered once and kept."""
    from invoices.pdf import render_credit_note_pdf

    found = CreditNoteDocument.objects.filter(credit_note=credit_note).first()
    if found is not None:
        return found
    content = render_credit_note_pdf(credit_note)
    try:
        with transaction.atomic():
            return CreditNoteDocument.objects.create(
                credit_note=credit_note, content=content, sha256=hashlib.sha256(content).hexdigest()
            )
    except IntegrityError:
        return CreditNoteDocument.objects.get(credit_note=credit_note)


# Plan changes --------------------------------------------------------------------


def plan_change(*, assignment: PlanAssignment, plan: Plan, at: datetime) -> PlanAssignment:
    """End `assignment` at `at` and put the customer on `plan` from that same
    instant (invoices/plan_change.py says how periods and fees split).
    Refused when the change would fall inside a period already invoiced: an
    issued invoice never changes."""
    from invoices.plan_change import successor

    with transaction.atomic():
        locked = (
            PlanAssignment.objects.select_for_update()
            .select_related("plan", "customer")
            .get(pk=assignment.pk)
        )
        if plan.pk == locked.plan_id:
            raise ValidationError({"plan": f"The customer is already on {plan.name}."})
        if plan.is_cost:
            raise ValidationError({"plan": f"{plan.name} is a cost plan, not a price plan."})
        if at <= locked.start_at or (locked.end_at is not None and at >= locked.end_at):
            raise ValidationError(
                {"at": "Choose an instant inside the current assignment, after its start."}
            )
        issued = (
            locked.invoices.exclude(status=Status.DRAFT)
            .filter(period_end__gt=at)
            .order_by("period_end")
            .last()
        )
        if issued is not None:
            raise ValidationError(
                {
                    "at": f"{issued.number} already bills this assignment until "
                    f"{issued.period_end.astimezone(billing_tz()):%-d %b %Y %H:%M}; "
                    "change the plan from then on."
                }
            )
        # Drafts of periods from the change on belong to the new assignment now.
        locked.invoices.filter(status=Status.DRAFT, period_start__gte=at).delete()
        new = successor(locked, plan, at)
        locked.end_at = at
        locked.save(update_fields=["end_at"])
        new.save()
        # The draft of the period holding `at` keeps its period: its usage and
        # fees now end at `at` (the assignment's end), prorated by the builder.
    return new
