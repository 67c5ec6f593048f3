"""Prepaid commitments as JSON: a customer's commitments with what each has
paid and what is left, and making one, which issues its invoice at once
(invoices.commitments decides every rule). Mounted beside invoices.rest,
whose money and reference shapes it shares."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from customers.rest import get_customer
from invoices.commitments import CommitmentView, commitment_create, customer_commitments
from invoices.models import Commitment
from invoices.rest import CustomerRef, InvoiceRef, ObjectId, actor_of, customer_ref, money
from meters.rest import aware

router = Router(tags=["invoices"])


class CommitmentOut(Schema):
    id: int
    customer: CustomerRef
    assignment: int  # the plan assignment it prepays
    plan: str
    currency: str
    amount: str  # the usage it pays for
    discount_percent: str
    starts_at: datetime
    ends_at: datetime  # exclusive
    invoice: InvoiceRef  # issued when it was made
    price: str  # what its invoice charged: after the discount, with tax
    drawn: str  # paid so far by issued usage invoices
    balance: str  # left to pay usage with
    state: str  # scheduled, active, used up, ended or void
    created_at: datetime
    created_by: str


class CommitmentIn(Schema):
    assignment: int = Field(description="The id of one of the customer's plan assignments.")
    amount: Decimal = Field(description="In the plan's currency's minor unit, e.g. \"12000.00\".")
    discount_percent: Decimal = Field(
        Decimal(0), description='Off the price paid up front, e.g. "15"; 0 up to 100.'
    )
    starts_at: datetime = Field(description="Without an offset: the billing time zone.")
    ends_at: datetime = Field(description="Exclusive: the instant after the term.")


def commitment_json(view: CommitmentView) -> dict[str, Any]:
    c = view.commitment
    return {
        "id": c.pk,
        "customer": customer_ref(c.customer),
        "assignment": c.assignment_id,
        "plan": c.assignment.plan.name,
        "currency": c.currency,
        "amount": money(c.amount, c.currency),
        "discount_percent": f"{c.discount_percent.normalize():f}",
        "starts_at": c.starts_at,
        "ends_at": c.ends_at,
        "invoice": {"id": c.invoice_id, "number": c.invoice.number},
        "price": money(view.price or Decimal(0), c.currency),
        "drawn": money(view.drawn, c.currency),
        "balance": money(view.balance, c.currency),
        "state": view.state,
        "created_at": c.created_at,
        "created_by": c.created_by,
    }


def _view(pk: int) -> CommitmentView:
    commitment = Commitment.objects.select_related("customer").filter(pk=pk).first()
    if commitment is None:
        raise Http404(f"No commitment with id {pk}.")
    now = timezone.now()
    [view] = [v for v in customer_commitments(commitment.customer, now) if v.commitment.pk == pk]
    return view


@router.get("/customers/{id}/commitments", response=list[CommitmentOut], summary="List commitments")
def commitment_list(request: HttpRequest, pk: ObjectId) -> list[dict[str, Any]]:
    """The customer's prepaid commitments, oldest term first, each with its
    invoice, what issued usage invoices have drawn from it and what is left."""
    customer = get_customer(pk)
    return [commitment_json(view) for view in customer_commitments(customer, timezone.now())]


@router.post(
    "/customers/{id}/commitments",
    response={201: CommitmentOut},
    summary="Make a prepaid commitment",
)
def commitment_add(
    request: HttpRequest, pk: ObjectId, payload: CommitmentIn
) -> Status[dict[str, Any]]:
    """Commit the customer to `amount` of usage on one of their plan
    assignments for [`starts_at`, `ends_at`), bought at `discount_percent`
    off. Its invoice is issued at once; usage invoices of periods starting in
    the term draw it down before tax, and bill what it cannot pay as priced."""
    customer = get_customer(pk)
    assignment = customer.assignments.select_related("plan").filter(pk=payload.assignment).first()
    if assignment is None:
        raise ValidationError({"assignment": "Choose one of this customer's plan assignments."})
    commitment = commitment_create(
        assignment=assignment,
        amount=payload.amount,
        discount_percent=payload.discount_percent,
        starts_at=aware(payload.starts_at),
        ends_at=aware(payload.ends_at),
        now=timezone.now(),
        actor=actor_of(request),
    )
    return Status(201, commitment_json(_view(commitment.pk)))


@router.get("/commitments/{id}", response=CommitmentOut, summary="Get a commitment")
def commitment_detail(request: HttpRequest, pk: ObjectId) -> dict[str, Any]:
    return commitment_json(_view(pk))
