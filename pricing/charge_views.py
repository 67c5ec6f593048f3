"""The plan page's "Invoice charges" and "Taxes" forms (Admin). A refused
form is shown again on the plan page, its messages next to its inputs; the
HTMX request gets only its card."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from pricing.charge_forms import PlanChargesForm, PlanTaxesForm
from pricing.forms import version_note
from pricing.services import plan_charges_save, plan_in_use
from pricing.taxes import plan_tax_rates_set
from pricing.views import current_charges, plan_page, price_plan_or_404, redirect_to_part


@require_POST
@permission_required("pricing.change_plan", raise_exception=True)
@vary_on_headers("HX-Request")
def plan_charges_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Set the invoice minimum and one-time fees: in place while the plan
    bills no one, else from when the posted "Takes effect" says (a new
    version). A POST carrying `add_row` only shows the form with one more fee."""
    plan = price_plan_or_404(pk)
    add_row = "add_row" in request.POST
    form = PlanChargesForm(
        request.POST,
        charges=current_charges(plan),
        currency=plan.currency,
        in_use=plan_in_use(plan),
        add_row=add_row,
    )
    if not add_row and form.is_valid():
        before = plan.current_version_id
        try:
            version = plan_charges_save(
                plan=plan, starts=form.cleaned_data.get("starts"), **form.charges_document()
            )
        except ValidationError as exc:
            form.place(exc)
        else:
            if version.pk == before:
                messages.success(request, f"Invoice charges of {plan.name} saved.")
            else:
                messages.success(
                    request, f"Invoice charges changed: {version_note(version, plan)}."
                )
            return redirect_to_part(request, plan.get_absolute_url(), "invoice-charges")
    return plan_page(request, plan, charges_form=form, region="invoice-charges")


@require_POST
@permission_required("pricing.change_plan", raise_exception=True)
@vary_on_headers("HX-Request")
def plan_taxes_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Choose the tax rates the plan's invoices charge (not versioned:
    invoices not yet issued are taxed by the new choice)."""
    plan = price_plan_or_404(pk)
    form = PlanTaxesForm(request.POST, chosen=list(plan.tax_rates.all()))
    if form.is_valid():
        rates = list(form.cleaned_data["tax_rates"])
        try:
            plan_tax_rates_set(plan=plan, rates=rates)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if rates:
                names = ", ".join(rate.name for rate in rates)
                taxed = f" ({names}): invoices not yet issued are taxed by them"
            else:
                taxed = ": its invoices not yet issued charge no tax"
            messages.success(request, f"Taxes of {plan.name} saved{taxed}.")
            return redirect_to_part(request, plan.get_absolute_url(), "taxes")
    return plan_page(request, plan, taxes_form=form, region="taxes")
