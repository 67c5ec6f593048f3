"""Cost plans as JSON: list, create, read (rates as RATE JSON and versions),
make default, and a provider's price sheet imported and exported
(pricing.cost_sheets, docs/COST_SHEETS.md).

Cost data is for `full` keys only: a `read` key gets 403 here, as a Viewer
gets no cost plan page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Body, Field, Router, Schema, Status

from meters.machine_http import FULL_ONLY
from pricing.cost_sheets import read_sheet_json, sheet_to_dict
from pricing.cost_views import cost_sheet_apply
from pricing.models import Plan
from pricing.plan_files import known_meters
from pricing.rest import ObjectId, VersionOut
from pricing.schema import rate_to_dict
from pricing.selectors import plan_rates, plan_versions, rate_draft
from pricing.services import cost_plan_make_default, plan_create

router = Router(tags=["cost plans"], auth=FULL_ONLY)


class CostPlanSummary(Schema):
    id: int
    name: str
    currency: str
    is_default: bool = Field(description="Whether it costs every customer without their own.")
    version: int = Field(description="The number of its current version.")


class CostPlanOut(CostPlanSummary):
    customers: list[int] = Field(description="Ids of the customers who have it as their own.")
    rates: list[dict[str, Any]] = Field(description="Its current rates, as RATE JSON.")
    versions: list[VersionOut] = Field(description="Its versions, newest first.")


class CostPlanIn(Schema):
    name: str
    currency: str = "USD"


def get_cost_plan(pk: int) -> Plan:
    plan = Plan.objects.filter(pk=pk, kind=Plan.Kind.COST).select_related("current_version").first()
    if plan is None:
        raise Http404(f"No cost plan with id {pk}.")
    return plan


def _summary(plan: Plan) -> dict[str, Any]:
    version = plan.current_version
    return {
        "id": plan.pk,
        "name": plan.name,
        "currency": plan.currency,
        "is_default": plan.is_default_cost,
        "version": version.number if version is not None else 1,
    }


def _detail(plan: Plan) -> dict[str, Any]:
    versions = [
        {
            "number": v.number,
            "starts": v.starts,
            "effective_at": v.effective_at,
            "change": v.change,
            "current": v.pk == plan.current_version_id,
            "rate_count": v.rate_count,  # type: ignore[attr-defined]
        }
        for v in plan_versions(plan)
    ]
    return {
        **_summary(plan),
        "customers": list(plan.cost_customers.order_by("pk").values_list("pk", flat=True)),
        "rates": [rate_to_dict(rate_draft(r)) for r in plan_rates(plan)],
        "versions": versions,
    }


# /cost-plans


@router.get("/cost-plans", response=list[CostPlanSummary], summary="List cost plans")
def cost_plan_list(request: HttpRequest) -> list[dict[str, Any]]:
    plans = Plan.objects.filter(kind=Plan.Kind.COST).select_related("current_version")
    return [_summary(p) for p in plans.order_by("name", "pk")]


@router.post("/cost-plans", response={201: CostPlanOut}, summary="Create a cost plan")
def cost_plan_add(request: HttpRequest, payload: CostPlanIn) -> Status[dict[str, Any]]:
    """A cost plan without rates: add them as a price sheet (POST
    /cost-plans/{id}/sheet). ValidationError naming `name` or `currency`."""
    plan = plan_create(
        name=payload.name, currency=payload.currency, billing_period="monthly", kind="cost"
    )
    return Status(201, _detail(get_cost_plan(plan.pk)))


@router.get("/cost-plans/{id}", response=CostPlanOut, summary="Get a cost plan")
def cost_plan_detail(request: HttpRequest, pk: ObjectId) -> dict[str, Any]:
    return _detail(get_cost_plan(pk))


@router.post(
    "/cost-plans/{id}/default", response=CostPlanOut, summary="Make a cost plan the default"
)
def cost_plan_default(request: HttpRequest, pk: ObjectId) -> dict[str, Any]:
    """It then costs the usage of every customer without their own."""
    plan = cost_plan_make_default(plan=get_cost_plan(pk))
    return _detail(plan)


# /cost-plans/<id>/sheet


class SheetOut(Schema):
    document_schema: str = Field(alias="schema")
    currency: str
    effective_from: datetime | None = None
    rates: list[dict[str, Any]]


@router.get(
    "/cost-plans/{id}/sheet",
    response=SheetOut,
    by_alias=True,
    summary="Export a cost plan's price sheet",
)
def cost_sheet_export(request: HttpRequest, pk: ObjectId) -> dict[str, Any]:
    plan = get_cost_plan(pk)
    return sheet_to_dict(plan.currency, [rate_draft(r) for r in plan_rates(plan)])


@router.post(
    "/cost-plans/{id}/sheet",
    response=CostPlanOut,
    summary="Import a price sheet into a cost plan",
)
def cost_sheet_import(
    request: HttpRequest,
    pk: ObjectId,
    sheet: Body[dict[str, Any]],
) -> dict[str, Any]:
    """A tally.cost-sheet/1 document: {"schema", "currency", "effective_from"
    (optional), "rates": [RATE, …]}: the sheet's meters get its rates, other
    meters keep theirs, from `effective_from` (default now). All or nothing;
    400 lists every problem with its field."""
    plan = get_cost_plan(pk)
    checked = read_sheet_json(sheet, known_meters())
    cost_sheet_apply(plan=plan, sheet=checked, now=timezone.now())
    return _detail(get_cost_plan(pk))


def cost_plan_or_none(raw: object) -> Plan | None:
    """A customer's cost plan by id, or None (the default); ValidationError
    on `cost_plan` for anything else."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValidationError({"cost_plan": "must be a cost plan's id, or null for the default"})
    plan = Plan.objects.filter(pk=raw).first()
    if plan is None:
        raise ValidationError({"cost_plan": f"no cost plan with id {raw}"})
    return plan
