"""The native JSON API for a customer's invoices (mounted by billing_site/api.py).

An invoice here is `invoices.builder.build_invoice`, the same object the
customer page and the PDF render, written out as JSON: the three can never
disagree. Money and quantities are strings ("0.14"), never JSON numbers.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import P, PathEx, Router, Schema

from customers.models import Customer
from customers.rest import get_customer
from invoices.builder import Invoice, PeriodRef, build_invoice, current_period
from invoices.builder import customer_periods as periods_of
from invoices.selection import period_by_token
from pricing.money import round_money
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


class InvoiceOut(Schema):
    customer: CustomerRef
    plan: str
    period: PeriodOut
    currency: str
    sections: list[SectionOut]  # one per rate of the plan, with its subtotal
    unpriced: list[UnpricedOut]  # recorded but not billed, with the reason
    total: str


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
    return invoice_json(build_invoice(customer, ref))
