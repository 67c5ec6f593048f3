"""The API keys screen: list keys, create one (its raw key shown once), revoke.

The raw key exists only in the response that creates it: it is never stored,
never put in the session or a message, and that response is marked no-store so
no browser or proxy cache keeps it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_tables2 import RequestConfig

from billing_site.htmx import page_or_partial, redirect_after_write
from meters.api_keys import api_key_create, api_key_revoke
from meters.models import ApiKey
from meters.tables_api import ApiKeyTable

TEMPLATE = "meters/api_keys.html"
REGION = "api-keys"


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=ApiKey._meta.get_field("name").max_length,
        help_text="Who or what uses this key, e.g. “production backend”.",
    )
    scope = forms.TypedChoiceField(
        choices=ApiKey.Scope.choices,
        coerce=ApiKey.Scope,
        initial=ApiKey.Scope.INGEST,
        # A client that sends no scope gets the least privilege, as from create_api_key.
        required=False,
        empty_value=ApiKey.Scope.INGEST,
        help_text="Ingest: send usage and add or update customers (enough for Amberflo's SDK "
        "ingestion). Read: every read, including usage queries. Full: everything, including "
        "creating plans and deleting rates.",
    )


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    table = ApiKeyTable(ApiKey.objects.all())
    RequestConfig(request, paginate={"per_page": 50}).configure(table)
    return {
        "table": table,
        "form": ApiKeyForm(),
        "ingest_url": request.build_absolute_uri(reverse("ingest")),
        "api_url": request.build_absolute_uri(reverse("api:api-root")),
        **extra,
    }


@require_http_methods(["GET", "POST"])
@permission_required("meters.view_apikey", raise_exception=True)
@vary_on_headers("HX-Request")
def api_key_list(request: HttpRequest) -> HttpResponse:
    """GET lists the keys; POST creates one and answers with its raw key, once."""
    if request.method == "POST" and not request.user.has_perm("meters.add_apikey"):
        raise PermissionDenied  # listing keys is for every role, creating one for Admin
    template = page_or_partial(request, TEMPLATE, REGION)
    if request.method != "POST":
        return render(request, template, _context(request))
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return render(request, template, _context(request, form=form))
    key, raw = api_key_create(name=form.cleaned_data["name"], scope=form.cleaned_data["scope"])
    response = render(request, template, _context(request, new_key=key, raw_key=raw))
    add_never_cache_headers(response)
    return response


@require_POST
@permission_required("meters.change_apikey", raise_exception=True)
@vary_on_headers("HX-Request")
def api_key_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    key = api_key_revoke(key=get_object_or_404(ApiKey, pk=pk))
    notice = f"API key “{key.name}” ({key.prefix}…) revoked; requests using it now get 401."
    if getattr(request, "htmx", False):
        return render(request, f"{TEMPLATE}#{REGION}", _context(request, notice=notice))
    messages.success(request, notice)
    return redirect_after_write(request, reverse("meters:api_keys"))
