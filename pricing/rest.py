"""The native JSON API for plans and their rates (mounted by billing_site/api.py).

Rates are exactly the RATE JSON of pricing/schema.py, read by `read_rate` and
written by `rate_to_dict`, and a plan reads as its plan document (plus its id):
what the API answers, `export_plan` writes and `import_plan` reads are one
format, checked by one set of rules.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest
from ninja import Body, Field, P, PathEx, Router, Schema, Status
from pydantic import ConfigDict, StrictInt

from meters.models import Meter
from pricing.models import Plan, Rate
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
    plan_to_dict,
    rate_to_dict,
    read_rate,
)
from pricing.selectors import plan_draft, rate_draft
from pricing.services import plan_import, plan_update, rate_delete, rate_save

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
    """The plan document, as `export_plan` writes it, with the plan's id."""

    id: int
    document_schema: str = Field(SCHEMA, alias="schema")
    name: str
    billing_period: str
    currency: str
    billing_anchor: str
    grace_period_hours: int
    net_terms_days: int
    late_usage_policy: str
    rates: list[dict[str, Any]]


def get_plan(pk: int) -> Plan:
    plan = Plan.objects.filter(pk=pk).first()
    if plan is None:
        raise Http404(f"No plan with id {pk}.")
    return plan


def _plan_json(plan: Plan) -> dict[str, Any]:
    return {"id": plan.pk, **plan_to_dict(plan_draft(plan))}


# /plans


@router.get("/plans", response=list[PlanSummary], summary="List plans")
def plan_list(request: HttpRequest) -> list[Plan]:
    return list(Plan.objects.order_by("name", "pk"))


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


RATE_BODY = {"requestBody": {"content": {"application/json": {"examples": RATE_EXAMPLES}}}}


@router.post(
    "/plans/{id}/rates",
    response={201: dict[str, Any]},
    openapi_extra=RATE_BODY,
    summary="Add a rate to a plan",
)
def rate_add(
    request: HttpRequest, pk: ObjectId, rate: Body[dict[str, Any]]
) -> Status[dict[str, object]]:
    """Price a meter on the plan: post the schema's RATE JSON. Every problem
    is answered at once, each with its path (`price.unit_price`)."""
    plan = get_plan(pk)
    draft, problems = read_rate(rate, "", known_meters())
    if draft is None:
        raise Problems([Problem(p.path.lstrip("."), p.message) for p in problems])
    meter = Meter.objects.get(api_name=draft.meter)
    # Already priced (even by a request at the same moment): a 400 on `meter`.
    saved = rate_save(plan=plan, meter=meter, draft=draft)
    return Status(201, rate_to_dict(rate_draft(saved)))


@router.delete(
    "/plans/{id}/rates/{meter}", response={204: None}, summary="Remove a rate from a plan"
)
def rate_remove(request: HttpRequest, meter: str, pk: ObjectId) -> Status[None]:
    """Remove the rate of the meter (by API name) from the plan."""
    plan = get_plan(pk)
    rate = Rate.objects.filter(version=plan.current_version_id, meter__api_name=meter).first()
    if rate is None:
        raise Http404(f"{plan.name} has no rate for the meter {meter!r}.")
    rate_delete(rate=rate)
    return Status(204, None)
