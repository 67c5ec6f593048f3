"""The tax rates page: every tax rate, a form making one, and archiving.

A rate's percentage and inclusiveness never change (pricing.taxes), so the
page has no edit: a new rate replaces one, and the old one is archived.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from billing_site.htmx import page_or_partial
from pricing.catalog_forms import TaxRateForm
from pricing.models import Plan, TaxRate
from pricing.money import format_quantity
from pricing.taxes import tax_rate_archive, tax_rate_create
from pricing.views import redirect_to_part

TEMPLATE = "pricing/tax_rates.html"
REGION = "tax-rates"


def _context(form: TaxRateForm) -> dict[str, Any]:
    plans = Prefetch("plans", queryset=Plan.objects.only("pk", "name").order_by("name"))
    return {"rates": TaxRate.objects.prefetch_related(plans), "form": form}


@require_http_methods(["GET", "POST"])
@permission_required("pricing.view_taxrate", raise_exception=True)
@vary_on_headers("HX-Request")
def tax_rate_list(request: HttpRequest) -> HttpResponse:
    """GET lists the tax rates; POST makes one (Admin)."""
    if request.method == "POST" and not request.user.has_perm("pricing.add_taxrate"):
        raise PermissionDenied  # every role sees the rates, an Admin makes them
    form = TaxRateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            rate = tax_rate_create(**form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            where = rate.country.name if rate.country else "everywhere"
            messages.success(
                request,
                f"Tax rate “{rate.name}” ({format_quantity(rate.percentage)}%, {where}) created. "
                "Choose it on a plan's page to tax its invoices.",
            )
            return redirect_to_part(request, reverse("pricing:tax_rates"), f"tax-rate-{rate.pk}")
    template = page_or_partial(request, TEMPLATE, REGION)
    return render(request, template, _context(form))


@require_POST
@permission_required("pricing.change_taxrate", raise_exception=True)
def tax_rate_archive_view(request: HttpRequest, pk: int) -> HttpResponse:
    rate = tax_rate_archive(rate=get_object_or_404(TaxRate, pk=pk), now=timezone.now())
    messages.success(
        request,
        f"Tax rate “{rate.name}” ({rate.code}) archived: invoices not yet issued no longer "
        "charge it; issued ones keep it.",
    )
    return redirect_to_part(request, reverse("pricing:tax_rates"), f"tax-rate-{rate.pk}")
