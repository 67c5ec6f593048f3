"""Writes for customers and plan assignments. Atomic and keyword-only."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import Enum

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q

from customers.customer_rules import (
    billing_problems,
    clean_billing_address,
    clean_locale,
    clean_tax_id,
    customer_name_problem,
    customer_problems,
    locale_problems,
    tax_problems,
)
from customers.models import Customer, PlanAssignment
from pricing.invoice_steps import TaxStatus
from pricing.models import Plan


def _check_customer(*, customer_id: str, name: str) -> tuple[str, str]:
    """The stripped ID and name; ValidationError keyed by field if they break
    a rule of customers.customer_rules."""
    customer_id, name = customer_id.strip(), name.strip()
    problems = customer_problems(customer_id=customer_id, name=name)
    if problems:
        raise ValidationError(problems)
    return customer_id, name


def customer_id_taken(customer: Customer) -> ValidationError:
    """What a taken customer ID answers: the message the create form shows."""
    message = customer.unique_error_message(Customer, ("customer_id",))
    return ValidationError({"customer_id": message})


@transaction.atomic
def customer_create(
    *,
    name: str,
    customer_id: str,
    email: str = "",
    billing_address: str = "",
    net_terms_days: int | None = None,
    country: str = "",
    tax_id: str = "",
    tax_status: str = TaxStatus.TAXABLE,
    locale: str = "",
) -> Customer:
    """Create a customer held to customers.customer_rules (every broken rule
    at once, by field). A taken ID is refused with the same message whether
    the check or the unique constraint (a concurrent request, or ingestion,
    creating the same ID) finds it."""
    customer_id, name = customer_id.strip(), name.strip()
    billing_address = clean_billing_address(billing_address)
    tax = _tax_fields(country, tax_id, tax_status)
    locale = clean_locale(locale)
    problems = (
        customer_problems(customer_id=customer_id, name=name)
        | billing_problems(billing_address=billing_address, net_terms_days=net_terms_days)
        | tax_problems(**tax)
        | locale_problems(locale=locale)
    )
    if problems:
        raise ValidationError(problems)
    customer = Customer(
        name=name,
        customer_id=customer_id,
        email=email.strip(),
        billing_address=billing_address,
        net_terms_days=net_terms_days,
        locale=locale,
        **tax,
    )
    customer.full_clean()
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError as exc:
        if not Customer.objects.filter(customer_id=customer_id).exists():
            raise
        raise customer_id_taken(customer) from exc
    return customer


def _checked_email(customer: Customer, email: str) -> str:
    """The stripped email, checked as the create page and the API check it
    (Customer.email's validators); ValidationError on `email` if broken."""
    email = email.strip()
    try:
        Customer._meta.get_field("email").clean(email, customer)
    except ValidationError as exc:
        raise ValidationError({"email": exc.messages}) from exc
    return email


def _tax_fields(country: str, tax_id: str, tax_status: str) -> dict[str, str]:
    """The tax details as stored (customers.customer_rules), not yet checked."""
    country = str(country).strip().upper()
    return {
        "country": country,
        "tax_id": clean_tax_id(tax_id, country),
        "tax_status": tax_status,
    }


class Stored(Enum):
    """A field customer_update leaves as it is stored (`KEEP`)."""

    KEEP = "keep"


KEEP = Stored.KEEP


@transaction.atomic
def customer_update(
    *,
    customer: Customer,
    name: str,
    email: str,
    billing_address: str | Stored = KEEP,
    net_terms_days: int | None | Stored = KEEP,
    country: str | Stored = KEEP,
    tax_id: str | Stored = KEEP,
    tax_status: str | Stored = KEEP,
    locale: str | Stored = KEEP,
) -> Customer:
    """Change the customer's name and email, and (unless KEEP) their billing
    address, payment terms (None: the plan's), tax details and locale ("":
    the seller's), held to the create rules
    (customers.customer_rules, the email field's validators); every broken
    rule at once, by field, and nothing changes unless all hold.

    The customer ID cannot change: usage events carry it as text, so a new ID
    would orphan the customer's stored usage. Like the Amberflo API's update,
    a described customer is no longer marked as created by ingestion. An
    issued invoice keeps the address and due date it was issued with."""
    name = name.strip()
    if isinstance(billing_address, Stored):
        billing_address = customer.billing_address
    if isinstance(net_terms_days, Stored):
        net_terms_days = customer.net_terms_days
    address, days = clean_billing_address(billing_address), net_terms_days
    tax = _tax_fields(
        str(customer.country.code or "") if isinstance(country, Stored) else country,
        customer.tax_id if isinstance(tax_id, Stored) else tax_id,
        customer.tax_status if isinstance(tax_status, Stored) else tax_status,
    )
    locale = customer.locale if isinstance(locale, Stored) else clean_locale(locale)
    problems: dict[str, list[str]] = {}
    if name_problem := customer_name_problem(name):
        problems["name"] = [name_problem]
    try:
        email = _checked_email(customer, email)
    except ValidationError as exc:
        problems.update(exc.message_dict)
    billing = billing_problems(billing_address=address, net_terms_days=days)
    for field, message in (billing | tax_problems(**tax) | locale_problems(locale=locale)).items():
        problems[field] = [message]
    if problems:
        raise ValidationError(problems)
    customer.name, customer.email = name, email
    customer.billing_address, customer.net_terms_days = address, days
    customer.locale = locale
    for field, value in tax.items():
        setattr(customer, field, value)
    customer.created_by_ingestion = False
    customer.save(
        update_fields=[
            "name",
            "email",
            "billing_address",
            "net_terms_days",
            *tax,
            "locale",
            "created_by_ingestion",
        ]
    )
    return customer


@transaction.atomic
def customer_cost_plan_set(*, customer: Customer, plan: Plan | None) -> Customer:
    """Cost the customer's usage by their own cost plan (a dedicated
    deployment, say), or by the default one again (None). ValidationError on
    `cost_plan` for a price plan. Drafts are costed by it from now on; issued
    invoices keep the costs they stored."""
    if plan is not None and not plan.is_cost:
        raise ValidationError({"cost_plan": f"{plan.name} is a price plan, not a cost plan."})
    customer.cost_plan = plan
    customer.save(update_fields=["cost_plan"])
    return customer


END_BEFORE_START = "The end date must be after the start date."

Span = tuple[datetime, datetime | None]


def spans_overlap(a: Span, b: Span) -> bool:
    """Whether two [start, end) spans (end None: open-ended) share an instant:
    the rule overlapping_assignments queries and the database constraint
    enforces, for spans not stored yet (e.g. several rows of one admin form)."""
    (a_start, a_end), (b_start, b_end) = a, b
    return (a_end is None or b_start < a_end) and (b_end is None or a_start < b_end)


def overlapping_assignments(
    customer: Customer, start_at: datetime, end_at: datetime | None
) -> list[PlanAssignment]:
    """Assignments of `customer` that share any instant with [start_at, end_at)."""
    overlap = Q(end_at__isnull=True) | Q(end_at__gt=start_at)
    if end_at is not None:
        overlap &= Q(start_at__lt=end_at)
    return list(customer.assignments.filter(overlap).select_related("plan"))


def plan_assign(
    *, customer: Customer, plan: Plan, start_at: datetime, end_at: datetime | None = None
) -> PlanAssignment:
    """Put the customer on a plan. Refuses an overlap with an existing
    assignment; the database constraint backs this against races."""
    if plan.is_cost:
        raise ValidationError(
            {"plan": f"{plan.name} is a cost plan: it prices what usage costs us, not customers."}
        )
    if end_at is not None and end_at <= start_at:
        raise ValidationError({"end_at": END_BEFORE_START})
    clash = overlapping_assignments(customer, start_at, end_at)
    if clash:
        raise ValidationError({"start_at": overlap_message(clash[0])})
    try:
        with transaction.atomic():
            # Lock the plan row: pricing.services.plan_update locks it too, so
            # its "no assignments yet" check cannot race this insert.
            Plan.objects.select_for_update().filter(pk=plan.pk).first()
            return PlanAssignment.objects.create(
                customer=customer, plan=plan, start_at=start_at, end_at=end_at
            )
    except IntegrityError as exc:
        # Another writer got in between the check and the insert.
        clash = overlapping_assignments(customer, start_at, end_at)
        message = overlap_message(clash[0]) if clash else "This overlaps another assignment."
        raise ValidationError({"start_at": message}) from exc


@transaction.atomic
def assignment_end(*, assignment: PlanAssignment, end_at: datetime) -> PlanAssignment:
    if end_at <= assignment.start_at:
        raise ValidationError({"end_at": END_BEFORE_START})
    customer = assignment.customer
    clash = [
        other
        for other in overlapping_assignments(customer, assignment.start_at, end_at)
        if other.pk != assignment.pk
    ]
    if clash:
        raise ValidationError({"end_at": overlap_message(clash[0])})
    assignment.end_at = end_at
    assignment.save(update_fields=["end_at"])
    return assignment


def overlap_message(other: PlanAssignment) -> str:
    until = f"until {other.end_at:%Y-%m-%d %H:%M}" if other.end_at else "with no end date"
    return (
        f"This overlaps the assignment to {other.plan.name} from "
        f"{other.start_at:%Y-%m-%d %H:%M} {until}. End that one first."
    )


def _customer_fill(
    customer: Customer, *, name: str, email: str, enabled: bool, traits: Mapping[str, str]
) -> None:
    """Every writable field from the arguments: PUT semantics, nothing kept."""
    customer.name = name
    customer.email = email
    customer.enabled = enabled
    customer.traits = dict(traits)
    # Someone has now described this customer: it is no longer a stub made
    # from a customerId that arrived with usage.
    customer.created_by_ingestion = False


@transaction.atomic
def customer_replace(
    *,
    customer_id: str,
    name: str,
    email: str = "",
    enabled: bool = True,
    traits: Mapping[str, str] | None = None,
) -> tuple[Customer, bool]:
    """Create the customer `customer_id`, or replace all of its fields if it
    exists (the Amberflo API's create and full-replace update). Returns the
    customer and whether it was created.

    Invariant: one customer per customer_id, even when ingestion or another
    request creates the same one at the same moment (the unique constraint
    decides; the loser replaces the winner's row instead of failing).
    """
    wanted = dict(traits or {})
    customer_id, name = _check_customer(customer_id=customer_id, name=name)
    customer = Customer.objects.select_for_update().filter(customer_id=customer_id).first()
    created = customer is None
    if customer is None:
        customer = Customer(customer_id=customer_id)
    _customer_fill(customer, name=name, email=email, enabled=enabled, traits=wanted)
    customer.full_clean(validate_unique=False)
    if not created:
        customer.save()
        return customer, False
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError:
        # Created meanwhile (by ingestion or another request): replace that one.
        customer = Customer.objects.select_for_update().get(customer_id=customer_id)
        _customer_fill(customer, name=name, email=email, enabled=enabled, traits=wanted)
        customer.save()
        return customer, False
    return customer, True
