from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_tables2 import RequestConfig

from billing_site.htmx import page_or_partial, redirect_after_write
from meters.models import Meter
from pricing.charge_forms import PlanChargesForm, PlanTaxesForm
from pricing.cost_views import sheet_form
from pricing.forms import (
    ChangeStartForm,
    EffectiveFromForm,
    PlanEditForm,
    PlanForm,
    RateForm,
    rate_added_message,
    version_note,
)
from pricing.models import Plan, PlanVersion, Rate
from pricing.periods import BillingAnchor, LateUsagePolicy
from pricing.preview import RateDefinition, rate_definition
from pricing.preview_form import preview_panel
from pricing.rate_forms import MatrixRow, friendly, rate_form_data
from pricing.schema import InvoiceCharges, Problems
from pricing.selectors import (
    plan_rates,
    plan_versions,
    rate_draft,
    version_charges,
    version_rates,
)
from pricing.services import (
    ANCHOR_PHRASE,
    plan_create,
    plan_in_use,
    plan_update,
    rate_delete,
    rate_replace,
    rate_save,
)
from pricing.tables import PlanTable
from pricing.versions import VersionStart


def plan_or_404(pk: int, request: HttpRequest | None = None) -> Plan:
    """The plan; a cost plan only for those who may see costs (404 for the
    others, who are not told it exists). Without `request`, any plan."""
    plan = get_object_or_404(Plan, pk=pk)
    if request is not None and plan.is_cost and not request.user.has_perm("pricing.see_costs"):
        raise Http404("No such plan.")
    return plan


def price_plan_or_404(pk: int) -> Plan:
    """A price plan: what only price plans have (invoice charges, taxes)."""
    return get_object_or_404(Plan, pk=pk, kind=Plan.Kind.PRICE)


def redirect_to_part(request: HttpRequest, url: str, fragment: str) -> HttpResponse:
    """After a write, back to `url`: at `#fragment` for a plain form; for
    HTMX without it, since HX-Redirect to the page already shown with only a
    fragment added would scroll instead of loading it (and its message)."""
    is_htmx = bool(getattr(request, "htmx", False))
    return redirect_after_write(request, url if is_htmx else f"{url}#{fragment}")


def current_charges(plan: Plan, version: PlanVersion | None = None) -> InvoiceCharges:
    """The invoice minimum and one-time fees of the plan's current prices
    (`version`, when already read)."""
    if version is None:
        version = plan.current_version
    return version_charges(version) if version is not None else InvoiceCharges()


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
    table = PlanTable(
        Plan.objects.filter(kind=Plan.Kind.PRICE).annotate(
            rate_count=Count("current_version__rates")
        )
    )
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


def version_takes_effect(version: PlanVersion, *, is_cost: bool = False) -> str:
    """When a version bills from, in words: `From the period containing
    28 Nov 2026, 10:47` (pricing.versions.takes, the rule)."""
    at = f"{timezone.localtime(version.effective_at):%-d %b %Y, %H:%M}"
    match VersionStart(version.starts):
        case VersionStart.ALWAYS if is_cost:
            return "All usage, until a later version takes effect"
        case VersionStart.ALWAYS:
            return VersionStart.ALWAYS.label
        case VersionStart.CURRENT_PERIOD:
            return f"From the period containing {at}"
        case VersionStart.NEXT_PERIOD:
            return f"From periods starting on or after {at}"
        case VersionStart.FROM_INSTANT:
            return f"Usage from {at} on"


@dataclass(frozen=True)
class VersionRow:
    version: PlanVersion
    takes_effect: str
    is_current: bool


@dataclass(frozen=True)
class RateItem:
    """One rate as the plan page and a version page list it
    (templates/pricing/_rate.html); `delete_form` asks when its removal takes
    effect, on the plan page of a plan in use."""

    rate: Rate
    definition: RateDefinition
    delete_form: ChangeStartForm | EffectiveFromForm | None = None


def _delete_form(
    plan: Plan, rate: Rate, data: QueryDict | None = None
) -> ChangeStartForm | EffectiveFromForm:
    # Each rate's fields need their own ids on one page.
    if plan.is_cost:
        return EffectiveFromForm(data, auto_id=f"id_delete-{rate.pk}-%s")
    return ChangeStartForm(data, auto_id=f"id_delete-{rate.pk}-%s")


def plan_page(
    request: HttpRequest,
    plan: Plan,
    failed_delete: tuple[int, ChangeStartForm | EffectiveFromForm] | None = None,
    *,
    charges_form: PlanChargesForm | None = None,
    taxes_form: PlanTaxesForm | None = None,
    region: str = "rates",
) -> HttpResponse:
    """The plan page (or, for HTMX, its `region`); `failed_delete` is a
    refused delete (rate pk, its form with the error), shown on that rate;
    `charges_form` and `taxes_form` are refused forms of the cards."""
    versions = [
        VersionRow(
            v, version_takes_effect(v, is_cost=plan.is_cost), v.pk == plan.current_version_id
        )
        for v in plan_versions(plan)
    ]
    in_use = plan_in_use(plan)
    asks_start = in_use and request.user.has_perm("pricing.delete_rate")
    rates = []
    for rate in plan_rates(plan):
        form = _delete_form(plan, rate) if asks_start else None
        if failed_delete is not None and failed_delete[0] == rate.pk:
            form = failed_delete[1]
        rates.append(RateItem(rate, rate_definition(rate_draft(rate)), form))
    current = next((row.version for row in versions if row.is_current), None)
    context = {
        "plan": plan,
        "invoice_terms": invoice_terms_summary(plan),
        "billing_anchor": billing_anchor_summary(plan),
        "rates": rates,
        "versions": versions,
        "current_version": current,
        "in_use": in_use,
        "can_add_rate": Meter.objects.exclude(rates__version=plan.current_version_id).exists(),
        **(
            _cost_cards(plan)
            if plan.is_cost
            else _cards(request, plan, current, in_use, charges_form, taxes_form)
        ),
    }
    template = page_or_partial(request, "pricing/detail.html", region)
    return render(request, template, context)


def _cost_cards(plan: Plan) -> dict[str, Any]:
    """A cost plan's page has, instead of invoice charges and taxes, the
    price sheet import (pricing.cost_views)."""
    return {"sheet_form": sheet_form(), "cost_customer_count": plan.cost_customers.count()}


def _cards(
    request: HttpRequest,
    plan: Plan,
    current: PlanVersion | None,
    in_use: bool,
    charges_form: PlanChargesForm | None,
    taxes_form: PlanTaxesForm | None,
) -> dict[str, Any]:
    """The "Invoice charges" and "Taxes" cards: what they show, and their
    forms for those who may change the plan (a refused one as it was sent)."""
    charges = current_charges(plan, current)
    tax_rates = list(plan.tax_rates.all())
    if request.user.has_perm("pricing.change_plan"):
        if charges_form is None:
            charges_form = PlanChargesForm(charges=charges, currency=plan.currency, in_use=in_use)
        if taxes_form is None:
            taxes_form = PlanTaxesForm(chosen=tax_rates)
    return {
        "charges": charges,
        "charges_form": charges_form,
        "tax_rates": tax_rates,
        "taxes_form": taxes_form,
    }


@require_GET
@permission_required("pricing.view_plan", raise_exception=True)
@vary_on_headers("HX-Request")
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return plan_page(request, plan_or_404(pk, request))


@require_GET
@permission_required("pricing.view_plan", raise_exception=True)
def version_detail(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    """One version of the plan's prices, read-only: how the periods it bills are priced."""
    plan = get_object_or_404(Plan.objects.select_related("current_version"), pk=pk)
    if plan.is_cost and not request.user.has_perm("pricing.see_costs"):
        raise Http404("No such plan.")
    version = get_object_or_404(PlanVersion, plan=plan, number=number)
    rates = [RateItem(r, rate_definition(rate_draft(r))) for r in version_rates(version.pk)]
    context = {
        "plan": plan,
        "version": version,
        "takes_effect": version_takes_effect(version, is_cost=plan.is_cost),
        "is_current": version.pk == plan.current_version_id,
        "rates": rates,
        "charges": version_charges(version),
    }
    return render(request, "pricing/version.html", context)


@require_http_methods(["GET", "POST"])
@permission_required("pricing.change_plan", raise_exception=True)
@vary_on_headers("HX-Request")
def plan_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Rename a plan and set how it invoices; its period and currency stay,
    and its billing anchor once it has assignments (pricing.services.plan_update)."""
    plan = plan_or_404(pk, request)
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


# The rate editor: one form adds a rate or changes one (its meter fixed).
EDITOR_ONLY = {"refresh", "add_row", "add_tier"}


def _editor_url(plan_pk: int, rate_pk: int | None) -> str:
    """Where the editor posts: saving, re-rendering and the live preview."""
    if rate_pk is None:
        return reverse("pricing:add_rate", args=[plan_pk])
    return reverse("pricing:edit_rate", args=[plan_pk, rate_pk])


@require_http_methods(["GET", "POST"])
@permission_required("pricing.add_rate", raise_exception=True)
@vary_on_headers("HX-Request")
def rate_add(request: HttpRequest, pk: int) -> HttpResponse:
    return _rate_editor(request, plan_or_404(pk, request), None)


@require_http_methods(["GET", "POST"])
@permission_required("pricing.change_rate", raise_exception=True)
@vary_on_headers("HX-Request")
def rate_edit(request: HttpRequest, pk: int, rate_pk: int) -> HttpResponse:
    """The editor, filled in from a rate of the plan's current prices."""
    plan = plan_or_404(pk, request)
    rate = get_object_or_404(version_rates(plan.current_version_id), pk=rate_pk)
    return _rate_editor(request, plan, rate)


def _rate_editor(request: HttpRequest, plan: Plan, rate: Rate | None) -> HttpResponse:
    """The add-rate form, or the form changing `rate`. A POST carrying
    `refresh`, `add_row` or `add_tier` (sent when a choice changes or a row is
    added) only re-renders the form; one carrying `preview` answers with the
    preview panel (_rate_preview)."""
    form_url = _editor_url(plan.pk, rate.pk if rate else None)
    if request.method == "POST" and "preview" in request.POST:
        return _rate_preview(request, plan, rate, form_url)
    in_use = plan_in_use(plan)
    if request.method == "POST" and not EDITOR_ONLY & request.POST.keys():
        form = RateForm(request.POST, plan=plan, rate=rate, in_use=in_use)
    else:
        draft: QueryDict | None = request.POST if request.method == "POST" else None
        if draft is None and rate is not None:  # the stored rate, as if typed
            draft = rate_form_data(rate_draft(rate), rate.meter_id)
        form = RateForm(plan=plan, draft=draft, rate=rate, in_use=in_use)
    if form.is_bound and form.is_valid() and (message := _rate_store(form, plan, rate)):
        messages.success(request, message)
        return redirect_after_write(request, plan.get_absolute_url())
    template = page_or_partial(request, "pricing/add_rate.html", "rate-form")
    panel = preview_panel(form, request.POST or None, plan.currency, timezone.now())
    context = {"plan": plan, "form": form, "panel": panel, "form_url": form_url}
    return render(request, template, context)


def _rate_store(form: RateForm, plan: Plan, rate: Rate | None) -> str | None:
    """Save the rate `form` checked (added, or replacing `rate`): the message
    saying what happened, or None with the refusal put on the form."""
    meter, draft = form.cleaned_data["meter"], form.cleaned_data["draft"]
    starts = form.cleaned_data.get("starts")
    # A cost plan in use: from the instant the editor was given (now if empty).
    at = form.cleaned_data.get("effective_from") or None
    before = plan.current_version_id
    try:
        if rate is None:
            saved = rate_save(plan=plan, meter=meter, draft=draft, starts=starts, now=at)
        else:
            saved = rate_replace(plan=plan, meter=meter, draft=draft, starts=starts, now=at)
    except ValidationError as exc:
        form.add_error(None, exc)
        return None
    except Problems as exc:  # the plan has no room for the rate
        form.add_error(None, [friendly("", p.message) for p in exc.problems])
        return None
    in_place = saved.version_id == before
    if rate is None:
        added = rate_added_message(saved, draft)
        return added if in_place else f"{added[:-1]}, in {version_note(saved.version, plan)}."
    if in_place:
        return f"Rate for {meter.label} changed on {plan.name}."
    return f"Rate for {meter.label} changed: {version_note(saved.version, plan)}."


def _rate_preview(
    request: HttpRequest, plan: Plan, rate: Rate | None, form_url: str
) -> HttpResponse:
    """The live preview of the rate being edited: the result region, and the
    panel's inputs again (out of band) when the rows they are for changed."""
    form = RateForm(plan=plan, draft=request.POST, rate=rate)
    panel = preview_panel(form, request.POST, plan.currency, timezone.now())
    context = {"plan": plan, "form": form, "panel": panel, "form_url": form_url, "oob": True}
    html = render_to_string("pricing/add_rate.html#preview-result", context, request)
    if panel.inputs.is_stale:
        html += render_to_string("pricing/add_rate.html#preview-inputs", context, request)
    return HttpResponse(html)


@require_GET
@permission_required("pricing.add_rate", raise_exception=True)
def matrix_row(request: HttpRequest, pk: int) -> HttpResponse:
    """One empty pricing-matrix row, appended in place by "+ Add row"."""
    plan = plan_or_404(pk, request)
    meter_pk = request.GET.get("meter", "")
    meter = get_object_or_404(Meter, pk=meter_pk if meter_pk.isdigit() else None)
    wanted = set(request.GET.getlist("dimensions"))
    row = MatrixRow.blank([d for d in meter.dimensions if d in wanted])
    rate_pk = request.GET.get("rate", "")
    form_url = _editor_url(plan.pk, int(rate_pk) if rate_pk.isdigit() else None)
    context = {"plan": plan, "row": row, "new_row": True, "form_url": form_url}
    return render(request, "pricing/add_rate.html#matrix-row", context)


@require_POST
@permission_required("pricing.delete_rate", raise_exception=True)
@vary_on_headers("HX-Request")
def rate_delete_view(request: HttpRequest, pk: int, rate_pk: int) -> HttpResponse:
    """Stop pricing a meter on the plan: in place while the plan bills no one,
    else from when the posted "Takes effect" says (a new version)."""
    plan = plan_or_404(pk, request)
    rate = get_object_or_404(
        Rate.objects.select_related("meter"), pk=rate_pk, version=plan.current_version_id
    )
    starts, at = None, None
    if plan_in_use(plan):
        form = _delete_form(plan, rate, request.POST)
        if not form.is_valid():
            return plan_page(request, plan, failed_delete=(rate.pk, form))
        starts = form.cleaned_data.get("starts")
        at = form.cleaned_data.get("effective_from")
    before = plan.current_version_id
    try:
        version = rate_delete(rate=rate, starts=starts, now=at)
    except ValidationError as exc:  # the plan's prices changed meanwhile
        messages.error(request, " ".join(exc.messages))
    else:
        label = rate.meter.label
        if version.pk == before:
            messages.success(request, f"Rate for {label} deleted from {plan.name}.")
        else:
            messages.success(request, f"Rate for {label} deleted: {version_note(version, plan)}.")
    return redirect_after_write(request, reverse("pricing:detail", args=[plan.pk]))
