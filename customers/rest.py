"""The native JSON API for customers and their plan assignments (mounted by
billing_site/api.py). Writes go through customers.services, so the API refuses
exactly what the pages refuse (an overlapping assignment, an end before the
start) with the same reasons."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.http import Http404, HttpRequest
from ninja import Field, P, PathEx, QueryEx, Router, Schema, Status
from pydantic import ConfigDict, StrictInt

from customers.customer_rules import MAX_BILLING_ADDRESS
from customers.models import Customer, PlanAssignment
from customers.services import (
    KEEP,
    assignment_end,
    customer_create,
    customer_update,
    overlap_message,
    overlapping_assignments,
    plan_assign,
)
from meters.rest import aware
from pricing.invoice_steps import TaxStatus
from pricing.models import Plan
from pricing.schema import MAX_NET_TERMS_DAYS

# Objects are named by their id in paths: /customers/{id}.
ObjectId = PathEx[int, P(alias="id")]

router = Router(tags=["customers"])

MAX_CUSTOMERS_PAGE = 500


# A strict integer: "30" or 30.5 is a 422 naming the field, not read as 30;
# the range is customers.customer_rules' (a 400 naming the field).
NET_TERMS_DAYS = Field(
    None,
    description="Days from an invoice's issue to its due date for this customer "
    f"(0 to {MAX_NET_TERMS_DAYS}); null: the plan's terms.",
)
BILLING_ADDRESS = Field(
    "",
    description=f"Printed on invoices; lines separated by \\n; at most {MAX_BILLING_ADDRESS:,} "
    "characters.",
)


COUNTRY = Field("", description="ISO 3166-1 alpha-2 code (DE), for tax; empty: unknown.")
TAX_ID = Field(
    "",
    description="VAT or tax number, printed on invoices; for a customer in the EU, a valid EU "
    "VAT number (stored compact). Required for reverse charge.",
)
TAX_STATUS = Field(
    TaxStatus.TAXABLE.value,
    description="taxable, exempt or reverse_charge (no tax charged; the customer accounts for it).",
)


LOCALE = Field(
    "",
    description="How amounts, numbers and dates are written on the customer's invoices: a "
    "CLDR locale such as de_DE or ja-JP (stored as de_DE, ja_JP); empty uses the seller's.",
)


class CustomerIn(Schema):
    name: str
    customer_id: str  # your own ID; usage events send it as customerId
    email: str = ""
    billing_address: str = BILLING_ADDRESS
    net_terms_days: StrictInt | None = NET_TERMS_DAYS
    country: str = COUNTRY
    tax_id: str = TAX_ID
    tax_status: str = TAX_STATUS
    locale: str = LOCALE


class CustomerOut(Schema):
    id: int
    customer_id: str
    name: str
    email: str
    billing_address: str
    net_terms_days: int | None
    country: str
    tax_id: str
    tax_status: str
    locale: str
    enabled: bool
    created_by_ingestion: bool
    created_at: datetime

    @staticmethod
    def resolve_country(customer: Customer) -> str:
        return str(customer.country.code or "")


class CustomerPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[CustomerOut]


class AssignmentIn(Schema):
    plan_id: int
    start_at: datetime  # without an offset: in the billing time zone
    end_at: datetime | None = None


class AssignmentEnd(Schema):
    end_at: datetime


class AssignmentOut(Schema):
    id: int
    plan_id: int
    plan: str
    start_at: datetime
    end_at: datetime | None


def get_customer(pk: int) -> Customer:
    customer = Customer.objects.filter(pk=pk).first()
    if customer is None:
        raise Http404(f"No customer with id {pk}.")
    return customer


def _assignment_json(assignment: PlanAssignment) -> dict[str, Any]:
    return {
        "id": assignment.pk,
        "plan_id": assignment.plan_id,
        "plan": assignment.plan.name,
        "start_at": assignment.start_at,
        "end_at": assignment.end_at,
    }


# /customers


@router.get("/customers", response=CustomerPage, summary="List customers")
def customer_list(
    request: HttpRequest,
    limit: QueryEx[int, P(ge=1, le=MAX_CUSTOMERS_PAGE)] = 50,
    offset: QueryEx[int, P(ge=0)] = 0,
    customer_id: str = "",
) -> dict[str, Any]:
    """Customers by name, `limit` at a time from `offset`; `count` is the
    total. `customer_id` finds one customer by your own ID."""
    customers = Customer.objects.order_by("name", "pk")
    if customer_id:
        customers = customers.filter(customer_id=customer_id)
    return {
        "count": customers.count(),
        "limit": limit,
        "offset": offset,
        "items": list(customers[offset : offset + limit]),
    }


@router.get("/customers/{id}", response=CustomerOut, summary="Get a customer")
def customer_detail(request: HttpRequest, pk: ObjectId) -> Customer:
    return get_customer(pk)


@router.post("/customers", response={201: CustomerOut}, summary="Create a customer")
def customer_add(request: HttpRequest, payload: CustomerIn) -> Status[Customer]:
    """Create a customer. `customer_id` and `name` are stripped; the ID must
    be new, non-empty, at most 255 characters and free of control characters
    (the create page's rules, customers.customer_rules). `billing_address`
    (at most 1,000 characters, lines separated by `\\n`) is printed on
    invoices; `net_terms_days` (0 to 365) replaces the plan's payment terms.
    `country`, `tax_id` and `tax_status` say how the customer is taxed (an EU
    customer's tax ID must be a valid VAT number; reverse charge needs one).
    `locale` says how their invoices write amounts and dates.
    A broken rule, or an ID taken even by a request at the same moment, is a
    400 naming the field."""
    return Status(201, customer_create(**payload.model_dump()))


class CustomerPatch(Schema):
    # The customer ID (and anything else) is refused by name rather than
    # ignored: usage events carry the ID.
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    email: str | None = None
    billing_address: str | None = None
    net_terms_days: StrictInt | None = None
    country: str | None = None
    tax_id: str | None = None
    tax_status: str | None = None
    locale: str | None = None


@router.patch("/customers/{id}", response=CustomerOut, summary="Change a customer")
def customer_change(request: HttpRequest, pk: ObjectId, payload: CustomerPatch) -> Customer:
    """Change the customer's `name`, `email`, `billing_address`,
    `net_terms_days`, `country`, `tax_id`, `tax_status` and/or `locale` (a field left
    out keeps its value; `"net_terms_days":
    null` returns the customer to the plan's terms). The create rules apply;
    a broken one is a 400 naming the field, and nothing changes. The customer
    ID is fixed, since usage events carry it: sending it is a 422."""
    customer = get_customer(pk)
    name = customer.name if payload.name is None else payload.name
    email = customer.email if payload.email is None else payload.email
    given = payload.model_fields_set
    return customer_update(
        customer=customer,
        name=name,
        email=email,
        billing_address=KEEP if payload.billing_address is None else payload.billing_address,
        net_terms_days=payload.net_terms_days if "net_terms_days" in given else KEEP,
        country=KEEP if payload.country is None else payload.country,
        tax_id=KEEP if payload.tax_id is None else payload.tax_id,
        tax_status=KEEP if payload.tax_status is None else payload.tax_status,
        locale=KEEP if payload.locale is None else payload.locale,
    )


# /customers/<id>/assignments


@router.get(
    "/customers/{id}/assignments",
    response=list[AssignmentOut],
    summary="List a customer's plan assignments",
)
def assignment_list(request: HttpRequest, pk: ObjectId) -> list[Any]:
    """The customer's plan assignments, latest start first."""
    customer = get_customer(pk)
    assignments = customer.assignments.select_related("plan").order_by("-start_at")
    return [_assignment_json(a) for a in assignments]


@router.post("/customers/{id}/assignments", response={201: AssignmentOut}, summary="Assign a plan")
def assignment_add(
    request: HttpRequest, payload: AssignmentIn, pk: ObjectId
) -> Status[dict[str, Any]]:
    """Put the customer on a plan from `start_at` (until `end_at`, or open-ended).
    An overlap with another assignment is refused with the reason."""
    customer = get_customer(pk)
    plan = Plan.objects.filter(pk=payload.plan_id).first()
    if plan is None:
        raise ValidationError({"plan_id": f"No plan with id {payload.plan_id}."})
    end_at = aware(payload.end_at) if payload.end_at else None
    assignment = plan_assign(
        customer=customer, plan=plan, start_at=aware(payload.start_at), end_at=end_at
    )
    return Status(201, _assignment_json(assignment))


@router.post(
    "/customers/{id}/assignments/{assignment_id}/end",
    response=AssignmentOut,
    summary="End a plan assignment",
)
def assignment_stop(
    request: HttpRequest, assignment_id: int, payload: AssignmentEnd, pk: ObjectId
) -> dict[str, Any]:
    """End the assignment at `end_at` (after its start, and not into the
    customer's next assignment)."""
    customer = get_customer(pk)
    assignment = customer.assignments.select_related("plan").filter(pk=assignment_id).first()
    if assignment is None:
        raise Http404(f"{customer.name} has no assignment with id {assignment_id}.")
    end_at = aware(payload.end_at)
    try:
        return _assignment_json(assignment_end(assignment=assignment, end_at=end_at))
    except IntegrityError as exc:
        # assignment_end does not check overlaps itself: moving the end later,
        # into the next assignment, is stopped only by the database constraint.
        clash = [
            a
            for a in overlapping_assignments(customer, assignment.start_at, end_at)
            if a.pk != assignment.pk
        ]
        reason = overlap_message(clash[0]) if clash else "This overlaps another assignment."
        raise ValidationError({"end_at": reason}) from exc
