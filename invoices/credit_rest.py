"""Prepaid credit as JSON: a customer's grants with their balance, state and
ledger, granting and voiding (invoices.credits decides every rule). Mounted
beside invoices.rest, whose money and reference shapes it shares."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from customers.rest import get_customer
from invoices.credits import GrantView, credit_grant_create, credit_grant_void, customer_credit
from invoices.models import CreditGrant, CreditLedgerEntry
from invoices.rest import (
    CustomerRef,
    InvoiceRef,
    ObjectId,
    VoidIn,
    actor_of,
    customer_ref,
    money,
)
from meters.rest import aware

router = Router(tags=["invoices"])


class LedgerEntryOut(Schema):
    kind: str  # granted, drawn, returned, expired or voided
    amount: str  # positive; `kind` says which way it moves the balance
    at: datetime
    invoice: InvoiceRef | None  # the invoice that drew it or gave it back
    actor: str
    note: str


class CreditGrantOut(Schema):
    id: int
    customer: CustomerRef
    kind: str  # paid or promotional
    currency: str
    amount: str  # as granted
    balance: str  # what is left: the sum of the ledger
    state: str  # active, scheduled, expired, voided or used up
    description: str
    purchase_reference: str
    effective_at: datetime
    expires_at: datetime | None
    priority: int  # 0-100, lower drawn first among grants expiring together
    created_at: datetime
    created_by: str
    ledger: list[LedgerEntryOut]  # oldest first


class CreditGrantList(Schema):
    available: dict[str, str]  # usable now, by currency
    items: list[CreditGrantOut]  # newest first


class CreditGrantIn(Schema):
    amount: Decimal = Field(
        description='A decimal string in the currency\'s minor unit, e.g. "50.00".'
    )
    currency: str
    description: str
    kind: str = Field(CreditGrant.Kind.PROMOTIONAL, description="paid or promotional")
    purchase_reference: str = Field("", description="Paid credit only: the purchase it came from.")
    effective_at: datetime | None = Field(
        None,
        description="When invoices may start drawing it; default now. "
        "Without an offset: the billing time zone.",
    )
    expires_at: datetime | None = Field(None, description="Optional; not drawn from then on.")
    priority: int = Field(
        50, description="0-100; lower is drawn first among grants expiring together."
    )


def _entry_json(entry: CreditLedgerEntry) -> dict[str, Any]:
    invoice = entry.invoice
    return {
        "kind": entry.kind,
        "amount": money(entry.amount, entry.grant.currency),
        "at": entry.at,
        "invoice": None if invoice is None else {"id": invoice.pk, "number": invoice.number},
        "actor": entry.actor,
        "note": entry.note,
    }


def grant_json(view: GrantView, now: datetime) -> dict[str, Any]:
    grant = view.grant
    return {
        "id": grant.pk,
        "customer": customer_ref(grant.customer),
        "kind": grant.kind,
        "currency": grant.currency,
        "amount": money(grant.amount, grant.currency),
        "balance": money(view.balance, grant.currency),
        "state": view.state(now),
        "description": grant.description,
        "purchase_reference": grant.purchase_reference,
        "effective_at": grant.effective_at,
        "expires_at": grant.expires_at,
        "priority": grant.priority,
        "created_at": grant.created_at,
        "created_by": grant.created_by,
        "ledger": [_entry_json(entry) for entry in view.entries],
    }


def _grant(pk: int, now: datetime) -> GrantView:
    grant = CreditGrant.objects.select_related("customer").filter(pk=pk).first()
    if grant is None:
        raise Http404(f"No credit grant with id {pk}.")
    [view] = [v for v in customer_credit(grant.customer, now).grants if v.grant.pk == pk]
    return view


@router.get(
    "/customers/{id}/credit-grants",
    response=CreditGrantList,
    summary="List a customer's credit grants",
)
def credit_grant_list(request: HttpRequest, pk: ObjectId) -> dict[str, Any]:
    """The customer's prepaid and promotional credit, newest first, each with
    its balance, state and ledger; `available` is what invoices can draw now,
    by currency. Finalizing an invoice draws credit in its currency, soonest
    expiry first, then lower priority first."""
    customer, now = get_customer(pk), timezone.now()
    credit = customer_credit(customer, now)
    return {
        "available": {cur: money(amount, cur) for cur, amount in sorted(credit.available.items())},
        "items": [grant_json(view, now) for view in credit.grants],
    }


@router.post(
    "/customers/{id}/credit-grants",
    response={201: CreditGrantOut},
    summary="Grant credit to a customer",
)
def credit_grant_add(
    request: HttpRequest, pk: ObjectId, payload: CreditGrantIn
) -> Status[dict[str, Any]]:
    """Give the customer `amount` of credit in `currency` (one of their plans'
    currencies), `paid` (with its `purchase_reference`) or `promotional`,
    usable from `effective_at` (default now) until `expires_at` (optional)."""
    customer, now = get_customer(pk), timezone.now()
    grant = credit_grant_create(
        customer=customer,
        amount=payload.amount,
        currency=payload.currency,
        description=payload.description,
        kind=payload.kind,
        effective_at=aware(payload.effective_at) if payload.effective_at else now,
        expires_at=aware(payload.expires_at) if payload.expires_at else None,
        priority=payload.priority,
        purchase_reference=payload.purchase_reference,
        now=now,
        actor=actor_of(request),
    )
    return Status(201, grant_json(_grant(grant.pk, now), now))


@router.get("/credit-grants/{id}", response=CreditGrantOut, summary="Get a credit grant")
def credit_grant_detail(request: HttpRequest, pk: ObjectId) -> dict[str, Any]:
    """One grant with its balance, state and ledger."""
    now = timezone.now()
    return grant_json(_grant(pk, now), now)


@router.post("/credit-grants/{id}/void", response=CreditGrantOut, summary="Void a credit grant")
def credit_grant_void_endpoint(
    request: HttpRequest, pk: ObjectId, payload: VoidIn
) -> dict[str, Any]:
    """Cancel what is left of the grant, saying why (`reason`). What invoices
    already drew stays drawn. Refused (400) when nothing is left or it is
    already voided."""
    now = timezone.now()
    view = _grant(pk, now)
    credit_grant_void(grant=view.grant, reason=payload.reason, now=now, actor=actor_of(request))
    return grant_json(_grant(pk, now), now)
