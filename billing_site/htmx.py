"""The one helper views use to answer HTMX with a partial."""

from __future__ import annotations

from django.http import HttpRequest


def page_or_partial(request: HttpRequest, template: str, partial: str) -> str:
    """`template#partial` for a real HTMX request (not a history restore), else
    the full page. Views using it carry @vary_on_headers("HX-Request")."""
    htmx = getattr(request, "htmx", None)
    if htmx and not htmx.history_restore_request:
        return f"{template}#{partial}"
    return template
