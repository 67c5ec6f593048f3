"""Helpers shared by the view tests: reading what a page shows the way a
person would (an element by id, the errors next to a field, table rows as
text), users holding each role, and the permission check every page gets."""

from __future__ import annotations

import html as html_lib
import json
import re
from typing import TYPE_CHECKING

from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from billing_site.roles import ADMIN, roles_sync
from tests.factories import UserFactory

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

# What htmx sends with every request it makes (as `headers=HTMX`).
HTMX = {"HX-Request": "true"}

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def user_with_role(role: str | None = ADMIN) -> User:
    """A new active, non-staff user holding `role` (None: no role at all)."""
    user = UserFactory.create()
    if role is not None:
        if not Group.objects.filter(name=role).exists():
            roles_sync()  # a live_server test's flushed database has no groups
        user.groups.add(Group.objects.get(name=role))
    return user


def login(client: Client, role: str | None = ADMIN) -> Client:
    """Log `client` in as a new non-staff user holding `role` (default: the
    Admin role, which may do everything on the pages)."""
    client.force_login(user_with_role(role))
    return client


def text(fragment: str) -> str:
    """The visible text of an HTML fragment, whitespace collapsed."""
    return _SPACE.sub(" ", html_lib.unescape(_TAG.sub(" ", fragment))).strip()


def page(response: Response) -> str:
    return response.content.decode()


def element(html: str, element_id: str) -> str:
    """The outer HTML of the element with `id="element_id"` ("" if absent)."""
    opening = re.search(rf'<(\w+)\b[^>]*\bid="{re.escape(element_id)}"[^>]*>', html)
    if opening is None:
        return ""
    tag = opening.group(1)
    depth, position = 1, opening.end()
    pattern = re.compile(rf"<(/?){tag}\b[^>]*>")
    while depth:
        found = pattern.search(html, position)
        if found is None:
            return html[opening.start() :]
        depth += -1 if found.group(1) else 1
        position = found.end()
    return html[opening.start() : position]


def field_errors(html: str, field: str) -> list[str]:
    """The error messages shown next to a form field."""
    block = element(html, f"field-{field}")
    return [text(e) for e in re.findall(r'<p class="error">(.*?)</p>', block, re.S)]


def form_errors(html: str) -> list[str]:
    """Errors shown for the form as a whole (not for one field)."""
    blocks = re.findall(r'<div class="form-errors"[^>]*>(.*?)</div>', html, re.S)
    return [text(p) for block in blocks for p in re.findall(r"<p>(.*?)</p>", block, re.S)]


def table_rows(html: str) -> list[list[str]]:
    """Every table row in `html`, as the text of its cells."""
    rows = []
    for row in re.findall(r"<tr\b[^>]*>(.*?)</tr>", html, re.S):
        rows.append([text(cell) for cell in re.findall(r"<t[hd]\b[^>]*>(.*?)</t[hd]>", row, re.S)])
    return rows


def assert_login_redirect(response: Response, path: str) -> None:
    """Anonymous users are sent to the login page, and come back here after."""
    assert response.status_code == 302, response.status_code
    assert response["Location"] == f"{reverse('login')}?next={path}"


def api_send(client: Client, method: str, path: str, body: dict[str, object]) -> tuple[int, dict]:  # type: ignore[type-arg]
    """Send `body` as JSON to the native API with a new full-scope key: the
    status and the JSON answer."""
    from meters.api_keys import api_key_create
    from meters.models import ApiKey

    key = api_key_create(name=f"test {method} {path}"[:100], scope=ApiKey.Scope.FULL)[1]
    response = getattr(client, method)(
        path, json.dumps(body), content_type="application/json", headers={"X-API-KEY": key}
    )
    return response.status_code, response.json()
