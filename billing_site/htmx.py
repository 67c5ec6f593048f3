"""The helpers views use to answer HTMX requests."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django_htmx.http import HttpResponseClientRedirect


def page_or_partial(request: HttpRequest, template: str, partial: str) -> str:
    """`template#partial` for a real HTMX request (not a history restore), else
    the full page. Views using it carry @vary_on_headers("HX-Request")."""
    htmx = getattr(request, "htmx", None)
    if htmx and not htmx.history_restore_request:
        return f"{template}#{partial}"
    return template


def redirect_after_write(request: HttpRequest, url: str) -> HttpResponse:
    """After a successful POST: HX-Redirect for HTMX requests (a plain 302 would
    be followed inside the swapped region), a normal redirect otherwise."""
    if getattr(request, "htmx", False):
        return HttpResponseClientRedirect(url)
    return redirect(url)
