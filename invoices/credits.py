"""Prepaid credit: grants, their ledger, drawing at finalization, giving back
on void, and expiry. Every function that writes is atomic and keyword-only.

The rules (docs/PRICING.md, "From charges to amount due", the credit step):
- A grant is in one currency and pays only invoices in it.
- It pays an invoice when it is usable (effective, not expired, not voided)
  at the last instant of the invoice's period or at its finalization: credit
  that covered the period pays for it, even if it ended during the grace
  period, and credit granted during the grace period pays the invoice it
  waits on. Expiry is half-open: a grant is expired AT its expiry instant.
- Grants are drawn soonest expiry first (no expiry last), then by priority
  (lower first), then the oldest, in whole minor units, never more than the
  invoice's total nor a grant's balance (pricing.invoice_steps.draw_credits).
- A grant's balance is the sum of its ledger (CreditLedgerEntry.SIGN), which
  is append-only; drawing and giving back lock the grant rows (in id order),
  so two finalizations at once cannot draw the same credit twice.
- Voiding an invoice gives back what it drew. Credit given back to a grant
  that has since expired or been voided is written off again at once.
- An expired grant's balance is written off (an `expired` entry) once no
  draft that could still draw it is left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, DecimalField, Exists, F, OuterRef, Sum, Value, When

from customers.models import Customer
from invoices.models import CreditGrant, CreditLedgerEntry, Invoice
from pricing.invoice_steps import CreditGrant as GrantSpec
from pricing.invoice_steps import draw_credits
from pricing.money import (
    CURRENCIES,
    MAX_AMOUNT,
    format_money,
    in_minor_units,
    minor_unit_exponent,
)

Kind = CreditLedgerEntry.Kind
MICROSECOND = timedelta(microseconds=1)
MAX_REASON = 2_000  # what the void form allows, for every door


def _signed() -> Case:
    return Case(
        *(
            When(kind=kind, then=F("amount") * Value(sign))
            for kind, sign in CreditLedgerEntry.SIGN.items()
        ),
        output_field=DecimalField(max_digits=60, decimal_places=3),
    )


def grant_balances(grant_ids: Sequence[int]) -> dict[int, Decimal]:
    """Each grant's balance, from its ledger: one grouped query."""
    rows = (
        CreditLedgerEntry.objects.filter(grant_id__in=list(grant_ids))
        .values("grant_id")
        .annotate(balance=Sum(_signed()))
    )
    balances = {row["grant_id"]: Decimal(row["balance"]) for row in rows}
    return {pk: balances.get(pk, Decimal(0)) for pk in grant_ids}


def _is_voided() -> Exists:
    return Exists(CreditLedgerEntry.objects.filter(grant=OuterRef("pk"), kind=Kind.VOIDED))


def _billed_currencies(customer: Customer) -> set[str]:
    return set(customer.assignments.values_list("plan__currency", flat=True))


@transaction.atomic
def credit_grant_create(
    *,
    customer: Customer,
    amount: Decimal,
    currency: str,
    description: str,
    kind: str = CreditGrant.Kind.PROMOTIONAL,
    effective_at: datetime,
    expires_at: datetime | None = None,
    priority: int = 50,
    purchase_reference: str = "",
    now: datetime,
    actor: str,
) -> CreditGrant:
    """Give the customer credit. ValidationError keyed by field, nothing
    stored, when: the amount is not positive or finer than the currency's
    minor unit; the customer is billed in no plan of that currency (credit
    there could pay nothing); it expires before it is effective; the
    priority is outside 0-100; the description is empty."""
    errors: dict[str, str] = {}
    description = description.strip()
    currency = currency.upper()
    if not description:
        errors["description"] = "Say what the credit is for; the customer reads it on invoices."
    elif len(description) > 200:
        errors["description"] = "Use at most 200 characters."
    if currency not in CURRENCIES:
        errors["currency"] = f"{currency} is not a currency Tally bills in."
    elif currency not in (billed := _billed_currencies(customer)):
        where = ", ".join(sorted(billed)) or "no currency yet (assign a plan first)"
        errors["currency"] = (
            f"{customer.name} is billed in {where}: credit in {currency} could pay nothing."
        )
    if not amount.is_finite() or amount <= 0:
        errors["amount"] = "Grant an amount greater than zero."
    elif amount >= MAX_AMOUNT:
        errors["amount"] = f"Grant less than {MAX_AMOUNT:,}."
    elif currency in CURRENCIES and not in_minor_units(amount, currency):
        places = minor_unit_exponent(currency)
        errors["amount"] = f"Use at most {places} decimal places in {currency}."
    if expires_at is not None and expires_at <= effective_at:
        errors["expires_at"] = "The credit must expire after it becomes effective."
    if not 0 <= priority <= 100:
        errors["priority"] = "Priority runs from 0 (drawn first) to 100."
    if kind not in CreditGrant.Kind.values:
        errors["kind"] = "Choose paid or promotional."
    if purchase_reference and kind != CreditGrant.Kind.PAID:
        errors["purchase_reference"] = "Only paid credit has a purchase."
    if errors:
        raise ValidationError(errors)
    grant = CreditGrant.objects.create(
        customer=customer,
        kind=kind,
        currency=currency,
        amount=amount,
        description=description,
        purchase_reference=purchase_reference.strip(),
        effective_at=effective_at,
        expires_at=expires_at,
        priority=priority,
        created_at=now,
        created_by=actor,
    )
    CreditLedgerEntry.objects.create(
        grant=grant, kind=Kind.GRANTED, amount=amount, at=now, actor=actor
    )
    return grant


@transaction.atomic
def credit_grant_void(
    *, grant: CreditGrant, reason: str, now: datetime, actor: str
) -> CreditLedgerEntry:
    """Cancel what is left of a grant (what invoices drew stays drawn)."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the credit is voided."})
    if len(reason) > MAX_REASON:
        raise ValidationError({"reason": f"Use at most {MAX_REASON:,} characters."})
    locked = CreditGrant.objects.select_for_update().get(pk=grant.pk)
    if CreditLedgerEntry.objects.filter(grant=locked, kind=Kind.VOIDED).exists():
        raise ValidationError("This credit is already voided.")
    balance = grant_balances([locked.pk])[locked.pk]
    if balance <= 0:
        raise ValidationError("Nothing is left of this credit to void.")
    return CreditLedgerEntry.objects.create(
        grant=locked, kind=Kind.VOIDED, amount=balance, at=now, actor=actor, note=reason
    )


def _spec(grant: CreditGrant, balance: Decimal) -> GrantSpec:
    return GrantSpec(
        id=f"{grant.pk:020d}",  # ties in credit_order fall to the oldest grant
        balance=balance,
        currency=grant.currency,
        effective_at=grant.effective_at,
        expires_at=grant.expires_at,
        priority=grant.priority,
    )


def credits_draw(
    invoices: Sequence[Invoice], totals: Sequence[Decimal], *, now: datetime, actor: str
) -> list[Decimal]:
    """Inside a finalizing transaction: the credit each invoice draws on its
    total (in the order given), with its ledger entries written. The
    customers' grants in the invoices' currencies are locked first, in id
    order, so a concurrent finalization waits rather than drawing twice. A
    constant number of queries, whatever the number of invoices."""
    customers = {invoice.customer_id for invoice in invoices}
    grants = list(
        CreditGrant.objects.select_for_update()
        .filter(customer_id__in=customers, effective_at__lte=now)
        .exclude(_is_voided())
        .order_by("pk")
    )
    if not grants:
        return [Decimal(0) for _ in invoices]
    balances = grant_balances([grant.pk for grant in grants])
    entries: list[CreditLedgerEntry] = []
    applied: list[Decimal] = []
    for invoice, total in zip(invoices, totals, strict=True):
        assert invoice.usage_end is not None
        mine = [
            g
            for g in grants
            if g.customer_id == invoice.customer_id
            and g.currency == invoice.currency
            and balances[g.pk] > 0
        ]
        drawn = draw_credits(
            [_spec(g, balances[g.pk]) for g in mine],
            max(total, Decimal(0)),
            invoice.currency,
            usable_at=(invoice.usage_end - MICROSECOND, now),
        )
        by_id = {f"{g.pk:020d}": g for g in mine}
        for part in drawn:
            grant = by_id[part.grant_id]
            balances[grant.pk] -= part.drawn
            entries.append(
                CreditLedgerEntry(
                    grant=grant,
                    kind=Kind.DRAWN,
                    amount=part.drawn,
                    invoice=invoice,
                    at=now,
                    actor=actor,
                )
            )
        applied.append(sum((part.drawn for part in drawn), Decimal(0)))
    CreditLedgerEntry.objects.bulk_create(entries)
    return applied


def credits_return(*, invoice: Invoice, now: datetime, actor: str) -> Decimal:
    """Inside the transaction voiding `invoice`: give back what it drew. A
    grant that has expired or been voided meanwhile writes it off again."""
    drawn = list(
        CreditLedgerEntry.objects.filter(invoice=invoice, kind=Kind.DRAWN).order_by("grant_id")
    )
    if not drawn:
        return Decimal(0)
    grants = CreditGrant.objects.select_for_update().filter(
        pk__in=[entry.grant_id for entry in drawn]
    )
    dead = {
        grant.pk: Kind.VOIDED if voided else Kind.EXPIRED
        for grant, voided in (
            (g, g.voided) for g in grants.annotate(voided=_is_voided()).order_by("pk")
        )
        if voided or (grant.expires_at is not None and grant.expires_at <= now)
    }
    note = f"invoice {invoice.number} voided"
    entries = []
    for entry in drawn:
        entries.append(
            CreditLedgerEntry(
                grant_id=entry.grant_id,
                kind=Kind.RETURNED,
                amount=entry.amount,
                invoice=invoice,
                at=now,
                actor=actor,
                note=note,
            )
        )
        if entry.grant_id in dead:
            entries.append(
                CreditLedgerEntry(
                    grant_id=entry.grant_id,
                    kind=dead[entry.grant_id],
                    amount=entry.amount,
                    at=now,
                    actor=actor,
                    note=f"given back by {note}, after the credit had ended",
                )
            )
    CreditLedgerEntry.objects.bulk_create(entries)
    return sum((entry.amount for entry in drawn), Decimal(0))


@transaction.atomic
def credit_grants_expire(*, now: datetime, actor: str) -> int:
    """Write off the balance of every grant past its expiry that no draft can
    still draw (a draft of its customer in its currency whose period ended
    by the expiry). Period close runs it; idempotent. Returns how many."""
    could_still_pay = Invoice.objects.filter(
        customer_id=OuterRef("customer_id"),
        currency=OuterRef("currency"),
        status=Invoice.Status.DRAFT,
        period_end__lte=OuterRef("expires_at"),
        period_end__gt=OuterRef("effective_at"),
    )
    expired = list(
        CreditGrant.objects.select_for_update()
        .filter(expires_at__lte=now)
        .exclude(_is_voided())
        .exclude(Exists(could_still_pay))
        .order_by("pk")
    )
    balances = grant_balances([grant.pk for grant in expired])
    entries = [
        CreditLedgerEntry(
            grant=grant, kind=Kind.EXPIRED, amount=balances[grant.pk], at=now, actor=actor
        )
        for grant in expired
        if balances[grant.pk] > 0
    ]
    CreditLedgerEntry.objects.bulk_create(entries)
    return len(entries)


# Reading ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GrantView:
    grant: CreditGrant
    balance: Decimal
    voided: bool
    entries: list[CreditLedgerEntry]

    def state(self, now: datetime) -> str:
        if self.voided:
            return "voided"
        if self.grant.expires_at is not None and self.grant.expires_at <= now:
            return "expired"
        if self.grant.effective_at > now:
            return "scheduled"
        return "active" if self.balance > 0 else "used up"


@dataclass(frozen=True)
class CustomerCredit:
    grants: list[GrantView]
    # Usable now, by currency: what the next invoices can draw.
    available: dict[str, Decimal]

    def available_text(self) -> list[str]:
        return [format_money(amount, cur) for cur, amount in sorted(self.available.items())]


def customer_credit(customer: Customer, now: datetime) -> CustomerCredit:
    """The customer's grants, newest first, each with its balance and ledger:
    three queries, whatever their number."""
    grants = list(customer.credit_grants.annotate(voided=_is_voided()))
    balances = grant_balances([grant.pk for grant in grants])
    entries: dict[int, list[CreditLedgerEntry]] = {grant.pk: [] for grant in grants}
    ledger = CreditLedgerEntry.objects.filter(grant__in=grants).select_related("invoice")
    for entry in ledger.order_by("at", "pk"):
        entries[entry.grant_id].append(entry)
    views = [
        GrantView(grant, balances[grant.pk], bool(grant.voided), entries[grant.pk])
        for grant in grants
    ]
    available: dict[str, Decimal] = {}
    for view in views:
        if view.state(now) == "active":
            currency = view.grant.currency
            available[currency] = available.get(currency, Decimal(0)) + view.balance
    return CustomerCredit(views, available)
