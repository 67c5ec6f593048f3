"""The native JSON API for plans and their rates (mounted by billing_site/api.py).

Rates are exactly the RATE JSON of pricing/schema.py, read by `read_rate` and
written by `rate_to_dict`, and a plan reads as its plan document (plus its id):
what the API answers, `export_plan` writes and `import_plan` reads are one
format, checked by one set of rules.

A plan's prices are versioned (pricing.versions): while the plan bills no one
a rate write changes its prices in place; once it has assignments each write
makes a new version, effective as the request's `starts` says. Every rate
write answers the number of the version that now holds the change in the
`Plan-Version` header (the rate body stays exactly the RATE JSON).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import Body, Field, P, PathEx, QueryEx, Router, Schema, Status
from ninja.errors import ValidationError as WrongType
from pydantic import ConfigDict, StrictInt

from meters.models import Meter
from pricing.models import Plan, PlanVersion, Rate, TaxRate
from pricing.periods import BillingAnchor, LateUsagePolicy
from pricing.plan_files import check_plan, known_meters
from pricing.schema import (
    DEFAULT_BILLING_ANCHOR,
    DEFAULT_GRACE_PERIOD_HOURS,
    DEFAULT_LATE_USAGE_POLICY,
    DEFAULT_NET_TERMS_DAYS,
    MAX_GRACE_PERIOD_HOURS,
    MAX_NET_TERMS_DAYS,
    SCHEMA,
    TERM_RULES,
    Problem,
    Problems,
    RateDraft,
    plan_to_dict,
    rate_to_dict,
    read_rate,
    read_tax_rate_codes,
)
from pricing.selectors import plan_draft, plan_versions, rate_draft, version_rates
from pricing.services import (
    plan_charges_save,
    plan_import,
    plan_update,
    rate_delete,
    rate_replace,
    rate_save,
)
from pricing.taxes import plan_tax_rates_set
from pricing.versions import CHANGE_STARTS, DEFAULT_CHANGE_START

# Objects are named by their id in paths: /customers/{id}.
ObjectId = PathEx[int, P(alias="id")]

router = Router(tags=["plans"])

RATE_EXAMPLES = {
    "per_unit": {
        "summary": "A price per unit",
        "value": {"meter": "api-calls", "model": "per_unit", "price": {"unit_price": "0.01"}},
    },
    "dimensions": {
        "summary": "A pricing matrix by dimension values",
        "value": {
            "meter": "llm-tokens",
            "model": "dimensions",
            "dimensions": ["model", "type"],
            "cells": [
                {"values": ["model a", "input"], "price": {"unit_price": "0.00001"}},
                {"values": ["model a", "output"], "price": {"unit_price": "0.00002"}},
            ],
        },
    },
    "graduated": {
        "summary": "Graduated tiers",
        "value": {
            "meter": "api-calls",
            "model": "graduated",
            "price": {
                "tiers": [
                    {"up_to": "1000", "unit_price": "0"},
                    {"up_to": None, "unit_price": "0.002"},
                ]
            },
        },
    },
}


# The invoicing settings' ranges and values are the plan document's rules
# (pricing.schema.read_terms, a 400 naming the field); the types here only
# keep a "24" or a 24.5 from being read as 24 (a 422 naming the field), as a
# plan file would not be.
BILLING_ANCHOR = Field(
    DEFAULT_BILLING_ANCHOR.value,
    description="Where the billing periods of the plan's customers start: "
    + "; ".join(f"`{a.value}`: {a.label.lower()}" for a in BillingAnchor)
    + ". A calendar plan's first period runs to the next calendar boundary, its base fees "
    "and minimums prorated. It cannot change once the plan has assignments.",
)
GRACE_PERIOD = Field(
    DEFAULT_GRACE_PERIOD_HOURS,
    description="Hours a period's draft invoice waits for late usage after the period "
    f"ends, before it is finalized (0 to {MAX_GRACE_PERIOD_HOURS}).",
)
NET_TERMS = Field(
    DEFAULT_NET_TERMS_DAYS,
    description=f"Days from an invoice's issue to its due date (0 to {MAX_NET_TERMS_DAYS}), "
    "unless the customer has their own terms.",
)
LATE_USAGE = Field(
    DEFAULT_LATE_USAGE_POLICY.value,
    description="What happens to usage that arrives after its period's invoice was "
    "issued: " + "; ".join(f"`{p.value}`: {p.label.lower()}" for p in LateUsagePolicy) + ".",
)


# A plan's invoice-level prices and taxes are checked by the plan document's
# rules (pricing.schema.read_invoice_charges, read_tax_rate_codes): a 400
# naming the field, as a plan file would get.
INVOICE_MINIMUM = Field(
    None,
    description='The least an invoice charges for a whole period, e.g. "50.00" (fees and '
    "usage together, after discounts; prorated like base fees), in the plan's currency. "
    "null: none.",
)
ONE_TIME_FEES: Any = Field(
    [],
    description='Fees on an assignment\'s first invoice: [{"description": "Setup fee", '
    '"amount": "500.00"}].',
)
TAX_RATES: Any = Field(
    [],
    description="The codes of the tax rates the plan's invoices charge (GET /tax-rates); "
    "each taxes customers in its country, or everywhere.",
)


class FeeOut(Schema):
    description: str
    amount: str


class PlanIn(Schema):
    """A plan document (docs/PLAN_SCHEMA.md); `rates` may be left out and
    added one by one later."""

    document_schema: str = Field(SCHEMA, alias="schema")
    name: str
    billing_period: str = "monthly"
    currency: str = "USD"
    billing_anchor: str = BILLING_ANCHOR
    grace_period_hours: StrictInt = GRACE_PERIOD
    net_terms_days: StrictInt = NET_TERMS
    late_usage_policy: str = LATE_USAGE
    invoice_minimum: str | Decimal | None = INVOICE_MINIMUM
    one_time_fees: list[Any] = ONE_TIME_FEES
    tax_rates: list[Any] = TAX_RATES
    rates: list[dict[str, Any]] = []


class PlanSummary(Schema):
    id: int
    name: str
    billing_period: str
    currency: str
    billing_anchor: str
    grace_period_hours: int
    net_terms_days: int
    late_usage_policy: str


class PlanOut(Schema):
    """The plan document, as `export_plan` writes it, with the plan's id and
    the number of its current version (the prices shown)."""

    id: int
    version: int
    document_schema: str = Field(SCHEMA, alias="schema")
    name: str
    billing_period: str
    currency: str
    billing_anchor: str
    grace_period_hours: int
    net_terms_days: int
    late_usage_policy: str
    invoice_minimum: str | None
    one_time_fees: list[FeeOut]
    tax_rates: list[str]
    rates: list[dict[str, Any]]


def get_plan(pk: int) -> Plan:
    """A price plan (cost plans have their own endpoints, for full keys:
    pricing.cost_rest), so no read key reaches a cost plan's prices here."""
    plan = (
        Plan.objects.filter(pk=pk, kind=Plan.Kind.PRICE).select_related("current_version").first()
    )
    if plan is None:
        raise Http404(f"No plan with id {pk}.")
    return plan


def _current_number(plan: Plan) -> int:
    # Set when the plan is created and only ever moved to a newer version.
    current = plan.current_version
    if current is None:
        raise ValueError(f"plan {plan.pk} has no current version")
    return current.number


def _plan_json(plan: Plan) -> dict[str, Any]:
    return {"id": plan.pk, "version": _current_number(plan), **plan_to_dict(plan_draft(plan))}


# /plans


@router.get("/plans", response=list[PlanSummary], summary="List plans")
def plan_list(request: HttpRequest) -> list[Plan]:
    return list(Plan.objects.filter(kind=Plan.Kind.PRICE).order_by("name", "pk"))


@router.get("/plans/{id}", response=PlanOut, by_alias=True, summary="Get a plan with its rates")
def plan_detail(request: HttpRequest, pk: ObjectId) -> dict[str, Any]:
    """The plan with its rates in the plan document's JSON form."""
    return _plan_json(get_plan(pk))


@router.post("/plans", response={201: PlanOut}, by_alias=True, summary="Create a plan")
def plan_add(request: HttpRequest, payload: PlanIn) -> Status[dict[str, Any]]:
    """Create a plan, with its rates if the document lists them (all or
    nothing). An exported plan document can be posted as it is."""
    draft = check_plan(payload.model_dump(by_alias=True))
    # A taken name (even by a request at the same moment) is a 400 on `name`.
    plan = plan_import(draft=draft)
    return Status(201, _plan_json(plan))


class PlanPatch(Schema):
    # The billing period and currency (and anything else) are refused by name
    # rather than ignored: invoices and prices depend on them.
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    billing_anchor: str | None = None
    grace_period_hours: StrictInt | None = None
    net_terms_days: StrictInt | None = None
    late_usage_policy: str | None = None


@router.patch("/plans/{id}", response=PlanOut, by_alias=True, summary="Change a plan")
def plan_change(request: HttpRequest, pk: ObjectId, payload: PlanPatch) -> dict[str, Any]:
    """Change the plan's `name` (stripped; not another plan's, ignoring case:
    a 400 on `name`) and how it invoices: `billing_anchor` (`anniversary` or
    `calendar`), `grace_period_hours` (0 to 8760), `net_terms_days` (0 to
    365), `late_usage_policy` (`bill_next` or `report`), each checked as in a
    plan document (a 400 naming the field). A field left out keeps its value;
    all change or none does. The billing anchor of a plan with assignments
    cannot change (a 400 on `billing_anchor`): their periods were laid out by
    it. The billing period and currency are fixed, since the plan's prices
    and its customers' periods depend on them: sending one is a 422 naming
    the field."""
    plan = get_plan(pk)
    given = payload.model_dump(exclude_unset=True)
    if given.get("name", "") is None:
        del given["name"]  # null: keep the name, as leaving it out does
    if given:
        stored = {"name": plan.name, **{field: getattr(plan, field) for field in TERM_RULES}}
        plan_update(plan=plan, **(stored | given))
    return _plan_json(plan)


# /plans/<id>/rates

STARTS_CHOICES = ", or ".join(f"`{s.value}` {s.label.lower()}" for s in CHANGE_STARTS)
STARTS_RULE = (
    f"When the change takes effect once the plan has assignments: {STARTS_CHOICES}. "
    f"By default `{DEFAULT_CHANGE_START.value}`. While the plan has no assignments its "
    "prices change in place (`starts` is still checked)."
)
# The response header naming the version that holds a rate write's change.
VERSION_HEADER = "Plan-Version"


def _rate_write_docs(status: int, body: bool = True) -> dict[str, Any]:
    """The OpenAPI additions of a rate write: its body's examples, and the
    Plan-Version header of its answer."""
    header = {
        VERSION_HEADER: {
            "description": "The number of the plan version that now holds the change: the "
            "current one when the plan's prices changed in place, else the new one.",
            "schema": {"type": "integer"},
        }
    }
    extra: dict[str, Any] = {"responses": {status: {"headers": header}}}
    if body:
        examples = {"application/json": {"examples": RATE_EXAMPLES}}
        extra["requestBody"] = {"content": examples}
    return extra


def _starts(rate: dict[str, Any]) -> str | None:
    """The optional `starts` of a rate body, taken out of it (the rest is the
    RATE JSON). Its value is checked by the service, with the change; a value
    that is not text is the wrong type."""
    starts = rate.pop("starts", None)
    if starts is not None and not isinstance(starts, str):
        choices = ", ".join(f'"{s.value}"' for s in CHANGE_STARTS)
        message = f"must be a string: {choices}"
        raise WrongType([{"loc": ("body", "rate", "starts"), "msg": message}])
    return starts


def _read_rate(rate: dict[str, Any]) -> tuple[Meter, RateDraft]:
    """The rate body checked by the plan schema's rules: every problem at
    once, each with its path (`price.unit_price`)."""
    draft, problems = read_rate(rate, "", known_meters())
    if draft is None:
        raise Problems([Problem(p.path.lstrip("."), p.message) for p in problems])
    return Meter.objects.get(api_name=draft.meter), draft


def _current_rate(plan: Plan, meter: str) -> Rate:
    """The plan's current rate for the meter (by API name), else a 404."""
    rates = Rate.objects.select_related("plan", "meter")
    rate = rates.filter(version=plan.current_version_id, meter__api_name=meter).first()
    if rate is None:
        raise Http404(f"{plan.name} has no rate for the meter {meter!r}.")
    return rate


@router.post(
    "/plans/{id}/rates",
    response={201: dict[str, Any]},
    openapi_extra=_rate_write_docs(201),
    summary="Add a rate to a plan",
)
def rate_add(
    request: HttpRequest, pk: ObjectId, rate: Body[dict[str, Any]], response: HttpResponse
) -> Status[dict[str, object]]:
    """Price a meter on the plan: post the schema's RATE JSON. Every problem
    of the rate is answered at once, each with its path (`price.unit_price`).
    The answer is the rate as stored; the `Plan-Version` header names the
    version that holds it.

    While the plan has no assignments its prices change in place. Once it has
    one, the change makes a new version, effective as the body's optional
    `starts` says: `next_period` (the default: periods that start from now
    on) or `current_period` (every period not yet ended: open drafts are
    re-rated). Another value is a 400 on `starts`."""
    plan = get_plan(pk)
    starts = _starts(rate)
    meter, draft = _read_rate(rate)
    # Already priced (even by a request at the same moment): a 400 on `meter`;
    # a `starts` that is not one of the choices: a 400 on `starts`.
    saved = rate_save(plan=plan, meter=meter, draft=draft, starts=starts)
    response[VERSION_HEADER] = str(saved.version.number)
    return Status(201, rate_to_dict(rate_draft(saved)))


@router.put(
    "/plans/{id}/rates/{meter}",
    response={200: dict[str, Any]},
    openapi_extra=_rate_write_docs(200),
    summary="Replace a plan's rate for a meter",
)
def rate_change(
    request: HttpRequest,
    meter: str,
    pk: ObjectId,
    rate: Body[dict[str, Any]],
    response: HttpResponse,
) -> dict[str, object]:
    """Price the meter (by API name) on the plan anew: put the schema's RATE
    JSON, plus an optional `starts`, as for adding a rate. The body's `meter`
    may be left out; if given it must be the path's (a 400 on `meter`). A
    meter the plan does not price is a 404 (add its rate with POST). The
    answer is the rate as stored; the `Plan-Version` header names the
    version that holds it."""
    plan = get_plan(pk)
    current = _current_rate(plan, meter)
    starts = _starts(rate)
    given = rate.setdefault("meter", meter)
    if given != meter:
        reason = f"must be the meter of the path, {meter!r} (got {given!r}); to price another "
        raise Problems([Problem("meter", reason + "meter, POST /plans/{id}/rates")])
    _, draft = _read_rate(rate)
    saved = rate_replace(plan=plan, meter=current.meter, draft=draft, starts=starts)
    response[VERSION_HEADER] = str(saved.version.number)
    return rate_to_dict(rate_draft(saved))


@router.delete(
    "/plans/{id}/rates/{meter}",
    response={204: None},
    openapi_extra=_rate_write_docs(204, body=False),
    summary="Remove a rate from a plan",
)
def rate_remove(
    request: HttpRequest,
    meter: str,
    pk: ObjectId,
    response: HttpResponse,
    starts: QueryEx[str | None, P(description=STARTS_RULE)] = None,
) -> Status[None]:
    """Remove the rate of the meter (by API name) from the plan; `starts` (a
    query parameter) says when, as for the other rate writes. The
    `Plan-Version` header names the version without the rate."""
    plan = get_plan(pk)
    version = rate_delete(rate=_current_rate(plan, meter), starts=starts)
    response[VERSION_HEADER] = str(version.number)
    return Status(204, None)


# /plans/<id>/charges and /plans/<id>/tax-rates


class ChargesIn(Schema):
    invoice_minimum: str | Decimal | None = INVOICE_MINIMUM
    one_time_fees: list[Any] = ONE_TIME_FEES
    starts: str | None = Field(None, description=STARTS_RULE)


class TaxRatesIn(Schema):
    tax_rates: list[Any] = TAX_RATES


@router.put(
    "/plans/{id}/charges",
    response=PlanOut,
    by_alias=True,
    openapi_extra=_rate_write_docs(200, body=False),
    summary="Set a plan's invoice minimum and one-time fees",
)
def plan_charges_change(
    request: HttpRequest, pk: ObjectId, payload: ChargesIn, response: HttpResponse
) -> dict[str, Any]:
    """Set the plan's `invoice_minimum` (money in the plan's currency, or
    null for none) and `one_time_fees` (each with a `description` and an
    `amount` above zero), both at once: a field left out is none. Every
    problem is a 400 naming its field (`one_time_fees[0].amount`). Like a
    rate write, the change is made in place while the plan has no
    assignments, else in a new version effective as `starts` says; the
    `Plan-Version` header names the version that holds it."""
    plan = get_plan(pk)
    version = plan_charges_save(
        plan=plan,
        invoice_minimum=payload.invoice_minimum,
        one_time_fees=payload.one_time_fees,
        starts=payload.starts,
    )
    response[VERSION_HEADER] = str(version.number)
    return _plan_json(get_plan(pk))


@router.put(
    "/plans/{id}/tax-rates",
    response=PlanOut,
    by_alias=True,
    summary="Set the tax rates a plan charges",
)
def plan_tax_rates_change(
    request: HttpRequest, pk: ObjectId, payload: TaxRatesIn
) -> dict[str, Any]:
    """Set the taxes the plan's invoices charge, by their codes (`[]`: none).
    A code that names no tax rate, or rates mixing tax-inclusive and
    tax-exclusive, is a 400 on `tax_rates`. Invoices not yet issued are
    taxed by the new set; issued ones keep theirs."""
    plan = get_plan(pk)
    rates = {rate.code: rate for rate in TaxRate.objects.all()}
    codes, problems = read_tax_rate_codes(payload.tax_rates, list(rates))
    if problems:
        raise Problems(problems)
    plan_tax_rates_set(plan=plan, rates=[rates[code] for code in codes])
    return _plan_json(plan)


# /plans/<id>/versions


class VersionOut(Schema):
    number: int
    starts: str = Field(
        description="`always` (version 1: every period), `current_period` (every period "
        "not ended at `effective_at`: open drafts were re-rated) or `next_period` (periods "
        "starting at or after `effective_at`)."
    )
    effective_at: datetime = Field(description="When the change was made (UTC).")
    change: str = Field(description="What this version changed.")
    current: bool = Field(description="Whether this is the plan's current version.")
    rate_count: int


class VersionDetail(VersionOut):
    rates: list[dict[str, Any]] = Field(description="The version's rates, as RATE JSON.")


def _version_json(plan: Plan, version: PlanVersion, rate_count: int) -> dict[str, Any]:
    return {
        "number": version.number,
        "starts": version.starts,
        "effective_at": version.effective_at,
        "change": version.change,
        "current": version.pk == plan.current_version_id,
        "rate_count": rate_count,
    }


@router.get("/plans/{id}/versions", response=list[VersionOut], summary="List a plan's versions")
def version_list(request: HttpRequest, pk: ObjectId) -> list[dict[str, Any]]:
    """The plan's price versions, newest first: a plan has version 1 from
    its creation, and each change to the rates of a plan in use makes the
    next. A period is billed by the newest version that takes it."""
    plan = get_plan(pk)
    versions = plan_versions(plan)  # each annotated with its rate_count
    return [_version_json(plan, v, v.rate_count) for v in versions]  # type: ignore[attr-defined]


@router.get(
    "/plans/{id}/versions/{number}",
    response=VersionDetail,
    summary="Get one version of a plan with its rates",
)
def version_detail(request: HttpRequest, pk: ObjectId, number: int) -> dict[str, Any]:
    """One version of the plan, with its rates in the plan document's RATE
    JSON, as they were (or are, for the current version)."""
    plan = get_plan(pk)
    version = PlanVersion.objects.filter(plan=plan, number=number).first()
    if version is None:
        raise Http404(f"{plan.name} has no version {number}.")
    rates = [rate_to_dict(rate_draft(rate)) for rate in version_rates(version.pk)]
    return {**_version_json(plan, version, len(rates)), "rates": rates}
