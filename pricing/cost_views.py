"""Cost plans: the page listing them (and making one, and the default), and
a cost plan's provider price sheets, imported and exported
(pricing.cost_sheets, docs/COST_SHEETS.md).

Everything here needs pricing.see_costs: a Viewer or an operator sees no
cost anywhere. A cost plan's own page is the plan page (pricing.views).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DataError, transaction
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from billing_site.htmx import page_or_partial, redirect_after_write
from meters.models import Meter
from meters.records import DocumentError
from pricing.cost_forms import CostPlanForm, CostSheetForm
from pricing.cost_sheets import (
    CostSheet,
    NotTabular,
    read_sheet_csv,
    read_sheet_json,
    sheet_to_csv,
    sheet_to_dict,
)
from pricing.models import Plan, Rate
from pricing.plan_files import known_meters, parse_document, problem_rows
from pricing.schema import Problem, Problems
from pricing.selectors import plan_rates, rate_draft, version_rates
from pricing.services import cost_plan_make_default, plan_create, rates_apply

TEMPLATE = "pricing/cost_plans.html"
REGION = "cost-plans"

# Reading and applying a sheet (shared with pricing.cost_rest)


def check_sheet(kind: str, text: str) -> CostSheet:
    """A sheet's text ("json" or "csv") read against the meters in the
    database; Problems listing all that is wrong."""
    if kind == "json":
        try:
            raw = parse_document(text)
        except DocumentError as exc:
            raise Problems([Problem("", str(exc))]) from exc
        return read_sheet_json(raw, known_meters())
    return read_sheet_csv(text, known_meters())


def cost_sheet_apply(*, plan: Plan, sheet: CostSheet, now: datetime) -> list[Rate]:
    """Set the cost plan's rates for the sheet's meters (others kept), all or
    nothing, effective from the sheet's `effective_from` or else `now`.
    Problems when the plan cannot take it (not a cost plan, another currency,
    no room). One change: one new version when the plan is in use
    (pricing.services.rates_apply)."""
    problems = []
    if not plan.is_cost:
        problems.append(Problem("", f"{plan.name} is a price plan, not a cost plan."))
    if sheet.currency is not None and sheet.currency != plan.currency:
        problems.append(
            Problem("currency", f"is {sheet.currency}; the cost plan is in {plan.currency}")
        )
    if problems:
        raise Problems(problems)
    at = sheet.effective_from or now
    meters = {
        m.api_name: m for m in Meter.objects.filter(api_name__in=[r.meter for r in sheet.rates])
    }
    try:
        with transaction.atomic():
            version = rates_apply(
                plan=plan, drafts=[(meters[d.meter], d) for d in sheet.rates], now=at
            )
    except DataError as exc:
        detail = (str(exc).splitlines() or ["a column limit"])[0]
        raise Problems([Problem("", f"a value is too large to store ({detail})")]) from exc
    return list(version_rates(version.pk).filter(meter__in=meters.values()))


def cost_plan_or_404(pk: int) -> Plan:
    return get_object_or_404(Plan, pk=pk, kind=Plan.Kind.COST)


# /pricing/costs/


@dataclass(frozen=True)
class CostPlanRow:
    plan: Plan
    rate_count: int
    customer_count: int


def _rows() -> list[CostPlanRow]:
    plans = (
        Plan.objects.filter(kind=Plan.Kind.COST)
        .select_related("current_version")
        .annotate(
            n_rates=Count("current_version__rates", distinct=True),
            n_customers=Count("cost_customers", distinct=True),
        )
        .order_by("name")
    )
    return [CostPlanRow(p, p.n_rates, p.n_customers) for p in plans]


@require_http_methods(["GET", "POST"])
@permission_required("pricing.see_costs", raise_exception=True)
@vary_on_headers("HX-Request")
def cost_plan_list(request: HttpRequest) -> HttpResponse:
    """GET lists the cost plans; POST makes one."""
    if request.method == "POST" and not request.user.has_perm("pricing.add_plan"):
        raise PermissionDenied
    form = CostPlanForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            plan = plan_create(**form.cleaned_data, billing_period="monthly", kind=Plan.Kind.COST)
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, exc)
        else:
            messages.success(
                request,
                f"Cost plan “{plan.name}” created. Add its rates or import a provider's "
                "price sheet.",
            )
            return redirect_after_write(request, plan.get_absolute_url())
    template = page_or_partial(request, TEMPLATE, REGION)
    return render(request, template, {"rows": _rows(), "form": form})


@require_POST
@permission_required(["pricing.see_costs", "pricing.change_plan"], raise_exception=True)
def cost_plan_default_view(request: HttpRequest, pk: int) -> HttpResponse:
    plan = cost_plan_make_default(plan=cost_plan_or_404(pk))
    messages.success(
        request,
        f"“{plan.name}” is now the default cost plan: it costs the usage of every customer "
        "without a cost plan of their own.",
    )
    return redirect_after_write(request, reverse("pricing:cost_plans"))


# /pricing/<pk>/sheet/ and /pricing/<pk>/sheet.json, .csv


def sheet_form(data: Any = None, files: Any = None) -> CostSheetForm:
    # Prefixed: the plan page also holds the rate editor's "Effective from".
    return CostSheetForm(data, files, prefix="sheet", max_bytes=settings.UPLOAD_MAX_BYTES)


@require_http_methods(["GET", "POST"])
@permission_required(["pricing.see_costs", "pricing.change_plan"], raise_exception=True)
@vary_on_headers("HX-Request")
def cost_sheet_import_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Upload a provider's price sheet; every problem in it is listed and
    nothing is stored until it has none."""
    plan = cost_plan_or_404(pk)
    form = sheet_form(request.POST or None, request.FILES or None)
    problems = []
    if request.method == "POST" and form.is_valid():
        kind, text = form.cleaned_data["file"]
        at = form.cleaned_data["effective_from"]
        try:
            sheet = check_sheet(kind, text)
            if at is not None:
                sheet = CostSheet(sheet.currency, at, sheet.rates)
            saved = cost_sheet_apply(plan=plan, sheet=sheet, now=timezone.now())
        except Problems as exc:
            problems = problem_rows(exc.problems)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            count = len(saved)
            messages.success(
                request,
                f"Price sheet imported into “{plan.name}”: {count} rate{'s' * (count != 1)} set.",
            )
            return redirect_after_write(request, plan.get_absolute_url())
    template = page_or_partial(request, "pricing/cost_sheet.html", "sheet-import")
    return render(request, template, {"plan": plan, "form": form, "problems": problems})


def _filename(plan: Plan, ext: str) -> str:
    return f"{slugify(plan.name) or f'cost-plan-{plan.pk}'}.{ext}"


@require_GET
@permission_required("pricing.see_costs", raise_exception=True)
def cost_sheet_export_view(request: HttpRequest, pk: int, ext: str) -> HttpResponse:
    """The cost plan's current rates as a price sheet, JSON or CSV."""
    plan = cost_plan_or_404(pk)
    rates = [rate_draft(r) for r in plan_rates(plan)]
    if ext == "json":
        body = json.dumps(sheet_to_dict(plan.currency, rates), indent=2, ensure_ascii=False)
        response = HttpResponse(body + "\n", content_type="application/json; charset=utf-8")
    elif ext == "csv":
        try:
            body = sheet_to_csv(rates)
        except NotTabular as exc:
            messages.error(request, f"{exc} Download the JSON sheet instead.")
            return redirect_after_write(request, plan.get_absolute_url())
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    else:
        raise Http404
    response["Content-Disposition"] = content_disposition_header(True, _filename(plan, ext))
    return response
