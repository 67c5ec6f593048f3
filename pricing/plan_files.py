"""Pricing as code in the UI: download a plan as JSON, upload one to create a plan."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET, require_http_methods


@require_http_methods(["GET", "POST"])
@login_required
def plan_import_view(request: HttpRequest) -> HttpResponse:
    raise Http404("not built yet")


@require_GET
@login_required
def plan_export_view(request: HttpRequest, pk: int) -> HttpResponse:
    raise Http404("not built yet")
