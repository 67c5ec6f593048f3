from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_tables2 import RequestConfig

from billing_site.htmx import page_or_partial, redirect_after_write
from meters.models import Meter
from pricing.forms import PlanEditForm, PlanForm, RateForm, rate_added_message
from pricing.models import Plan, Rate
from pricing.periods import BillingAnchor, LateUsagePolicy
from pricing.preview import rate_definition
from pricing.preview_form import preview_panel
from pricing.rate_forms import MatrixRow, friendly
from pricing.schema import Problems
from pricing.selectors import plan_rates, rate_draft
from pricing.services import ANCHOR_PHRASE, plan_create, plan_update, rate_delete, rate_save
from pricing.tables import PlanTable


def _get_plan(pk: int) -> Plan:
    return get_object_or_404(Plan, pk=pk)


# How the plan page words each policy after "late usage" (one per member of
# the enum; tests/pricing/test_invoice_terms.py checks none is missing).
LATE_USAGE_SUMMARY = {
    LateUsagePolicy.BILL_NEXT: "late usage billed on the next invoice",
    LateUsagePolicy.REPORT: "late usage reported, not billed",
}


def invoice_terms_summary(plan: Plan) -> str:
    """`net 30 · grace 24 h · late usage billed on the next invoice`."""
    net = "due when issued" if plan.net_terms_days == 0 else f"net {plan.net_terms_days}"
    grace = (
        "no grace period" if plan.grace_period_hours == 0 else f"grace {plan.grace_period_hours} h"
    )
    late = LATE_USAGE_SUMMARY[LateUsagePolicy(plan.late_usage_policy)]
    return f"{net} · {grace} · {late}"


def billing_anchor_summary(plan: Plan) -> str:
    """`periods on the calendar`, `periods on each assignment's start date`."""
    return f"periods {ANCHOR_PHRASE[BillingAnchor(plan.billing_anchor)]}"


@require_GET
@permission_required("pricing.view_plan", raise_exception=True)
@vary_on_headers("HX-Request")
def plan_list(request: HttpRequest) -> HttpResponse:
    table = PlanTable(Plan.objects.annotate(rate_count=Count("current_version__rates")))
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    template = page_or_partial(request, "pricing/list.html", "plan-table")
    return render(request, template, {"table": table})


@require_http_methods(["GET", "POST"])
@permission_required("pricing.add_plan", raise_exception=True)
@vary_on_headers("HX-Request")
def plan_create_view(request: HttpRequest) -> HttpResponse:
    form = PlanForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            plan = plan_create(**form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Pricing plan “{plan.name}” created. Now add its rates.")
            return redirect_after_write(request, plan.get_absolute_url())
    template = page_or_partial(request, "pricing/create.html", "plan-form")
    return render(request, template, {"form": form})


@require_GET
@permission_required("pricing.view_plan", raise_exception=True)
@vary_on_headers("HX-Request")
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plan = _get_plan(pk)
    # Matrix rows are shown in the order they were entered.
    rates = plan_rates(plan)
    context = {
        "plan": plan,
        "invoice_terms": invoice_terms_summary(plan),
        "billing_anchor": billing_anchor_summary(plan),
        "rates": [(rate, rate_definition(rate_draft(rate))) for rate in rates],
        "can_add_rate": Meter.objects.exclude(rates__version=plan.current_version_id).exists(),
    }
    template = page_or_partial(request, "pricing/detail.html", "rates")
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@permission_required("pricing.change_plan", raise_exception=True)
@vary_on_headers("HX-Request")
def plan_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Rename a plan and set how it invoices; its period and currency stay,
    and its billing anchor once it has assignments (pricing.services.plan_update)."""
    plan = _get_plan(pk)
    form = PlanEditForm(request.POST or None, initial=PlanEditForm.initial_for(plan))
    if request.method == "POST" and form.is_valid():
        try:
            plan_update(plan=plan, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Pricing plan “{plan.name}” saved.")
            return redirect_after_write(request, plan.get_absolute_url())
    template = page_or_partial(request, "pricing/edit.html", "plan-edit-form")
    return render(request, template, {"plan": plan, "form": form})


@require_http_methods(["GET", "POST"])
@permission_required("pricing.add_rate", raise_exception=True)
@vary_on_headers("HX-Request")
def rate_add(request: HttpRequest, pk: int) -> HttpResponse:
    """The add-rate form. A POST carrying `refresh`, `add_row` or `add_tier`
    (sent when a choice changes or a row is added) only re-renders the form;
    one carrying `preview` answers with the preview panel (_rate_preview)."""
    plan = _get_plan(pk)
    if request.method == "POST" and "preview" in request.POST:
        return _rate_preview(request, plan)
    if request.method == "POST" and not {"refresh", "add_row", "add_tier"} & request.POST.keys():
        form = RateForm(request.POST, plan=plan)
    else:
        form = RateForm(plan=plan, draft=request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            rate = rate_save(
                plan=plan, meter=form.cleaned_data["meter"], draft=form.cleaned_data["draft"]
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        except Problems as exc:  # the plan has no room for the rate
            form.add_error(None, [friendly("", p.message) for p in exc.problems])
        else:
            messages.success(request, rate_added_message(rate, form.cleaned_data["draft"]))
            return redirect_after_write(request, plan.get_absolute_url())
    template = page_or_partial(request, "pricing/add_rate.html", "rate-form")
    panel = preview_panel(form, request.POST or None, plan.currency, timezone.now())
    return render(request, template, {"plan": plan, "form": form, "panel": panel})


def _rate_preview(request: HttpRequest, plan: Plan) -> HttpResponse:
    """The live preview of the rate being edited: the result region, and the
    panel's inputs again (out of band) when the rows they are for changed."""
    form = RateForm(plan=plan, draft=request.POST)
    panel = preview_panel(form, request.POST, plan.currency, timezone.now())
    context = {"plan": plan, "form": form, "panel": panel, "oob": True}
    html = render_to_string("pricing/add_rate.html#preview-result", context, request)
    if panel.inputs.is_stale:
        html += render_to_string("pricing/add_rate.html#preview-inputs", context, request)
    return HttpResponse(html)


@require_GET
@permission_required("pricing.add_rate", raise_exception=True)
def matrix_row(request: HttpRequest, pk: int) -> HttpResponse:
    """One empty pricing-matrix row, appended in place by "+ Add row"."""
    plan = _get_plan(pk)
    meter_pk = request.GET.get("meter", "")
    meter = get_object_or_404(Meter, pk=meter_pk if meter_pk.isdigit() else None)
    wanted = set(request.GET.getlist("dimensions"))
    row = MatrixRow.blank([d for d in meter.dimensions if d in wanted])
    context = {"plan": plan, "row": row, "new_row": True}
    return render(request, "pricing/add_rate.html#matrix-row", context)


@require_POST
@permission_required("pricing.delete_rate", raise_exception=True)
def rate_delete_view(request: HttpRequest, pk: int, rate_pk: int) -> HttpResponse:
    plan = _get_plan(pk)
    rate = get_object_or_404(
        Rate.objects.select_related("meter"), pk=rate_pk, version=plan.current_version_id
    )
    rate_delete(rate=rate)
    messages.success(request, f"Rate for {rate.meter.label} deleted from {plan.name}.")
    return redirect_after_write(request, reverse("pricing:detail", args=[plan.pk]))
