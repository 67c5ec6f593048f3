from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_tables2 import RequestConfig

from billing_site.htmx import page_or_partial, redirect_after_write
from meters.models import Meter
from pricing.forms import RATE_MODEL_HELP, MatrixRow, PlanForm, RateForm
from pricing.models import Plan, PriceCell, Rate
from pricing.money import format_unit_price
from pricing.services import plan_create, rate_create, rate_delete
from pricing.tables import PlanTable


def _get_plan(pk: int) -> Plan:
    return get_object_or_404(Plan, pk=pk)


@require_GET
@login_required
@vary_on_headers("HX-Request")
def plan_list(request: HttpRequest) -> HttpResponse:
    table = PlanTable(Plan.objects.annotate(rate_count=Count("rates")))
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    template = page_or_partial(request, "pricing/list.html", "plan-table")
    return render(request, template, {"table": table})


@require_http_methods(["GET", "POST"])
@login_required
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
@login_required
@vary_on_headers("HX-Request")
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plan = _get_plan(pk)
    # Matrix rows are shown in the order they were entered.
    rates = plan.rates.select_related("meter").prefetch_related(
        Prefetch("cells", queryset=PriceCell.objects.order_by("pk"))
    )
    context = {
        "plan": plan,
        "rates": rates,
        "can_add_rate": Meter.objects.exclude(rates__plan=plan).exists(),
    }
    template = page_or_partial(request, "pricing/detail.html", "rates")
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@login_required
@vary_on_headers("HX-Request")
def rate_add(request: HttpRequest, pk: int) -> HttpResponse:
    """The add-rate form. A POST carrying `refresh` or `add_row` (sent when the
    meter, rate model or dimensions change) only re-renders the form."""
    plan = _get_plan(pk)
    if request.method == "POST" and not {"refresh", "add_row"} & request.POST.keys():
        form = RateForm(request.POST, plan=plan)
    else:
        form = RateForm(plan=plan, draft=request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            rate = rate_create(plan=plan, **form.rate_kwargs())
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _rate_added_message(rate, form))
            return redirect_after_write(request, plan.get_absolute_url())
    template = page_or_partial(request, "pricing/add_rate.html", "rate-form")
    context = {"plan": plan, "form": form, "rate_models": RATE_MODEL_HELP}
    return render(request, template, context)


def _rate_added_message(rate: Rate, form: RateForm) -> str:
    if rate.rate_model == Rate.RateModel.PER_UNIT:
        price = format_unit_price(form.cleaned_data["unit_price"], rate.plan.currency)
        return f"Rate added: {rate.meter.label} at {price} per unit."
    count = len(form.cleaned_data["matrix"])
    by = " and ".join(rate.dimensions)
    return f"Rate added: {rate.meter.label}, priced by {by} ({count} price{'s' * (count > 1)})."


@require_GET
@login_required
def matrix_row(request: HttpRequest, pk: int) -> HttpResponse:
    """One empty pricing-matrix row, appended in place by "+ Add row"."""
    _get_plan(pk)
    meter_pk = request.GET.get("meter", "")
    meter = get_object_or_404(Meter, pk=meter_pk if meter_pk.isdigit() else None)
    wanted = set(request.GET.getlist("dimensions"))
    row = MatrixRow.blank([d for d in meter.dimensions if d in wanted])
    return render(request, "pricing/add_rate.html#matrix-row", {"row": row, "new_row": True})


@require_POST
@login_required
def rate_delete_view(request: HttpRequest, pk: int, rate_pk: int) -> HttpResponse:
    plan = _get_plan(pk)
    rate = get_object_or_404(Rate.objects.select_related("meter"), pk=rate_pk, plan=plan)
    rate_delete(rate=rate)
    messages.success(request, f"Rate for {rate.meter.label} deleted from {plan.name}.")
    return redirect_after_write(request, reverse("pricing:detail", args=[plan.pk]))
