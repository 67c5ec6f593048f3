"""API keys: the screen that lists, creates and revokes them, and
`manage.py create_api_key`.

Invariants under test: a raw key is shown once, in the answer that creates it,
and never stored (only its hash is); a revoked key is refused at once.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from time_machine import TimeMachineFixture

from meters.api_keys import api_key_create, api_key_revoke, hash_key
from meters.models import ApiKey
from tests.fixtures import (
    HTMX,
    assert_login_redirect,
    element,
    field_errors,
    login,
    page,
    table_rows,
    text,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
KEYS_URL = "/meters/api-keys/"
RAW_KEY = re.compile(r"tly_[A-Za-z0-9_-]{43}")


def create(client: Client, name: str = "production backend", **headers: str) -> str:
    return page(client.post(reverse("meters:api_keys"), {"name": name}, headers=headers))


def ingest(client: Client, key: str) -> int:
    response = client.post(
        reverse("ingest"), "[]", content_type="application/json", headers={"X-API-KEY": key}
    )
    return response.status_code


def key_rows(html: str) -> list[list[str]]:
    """The keys table as text, without the header row and the action column."""
    return [row[:6] for row in table_rows(element(html, "api-key-table"))[1:]]


def test_the_urls_are_where_the_docs_say() -> None:
    assert reverse("meters:api_keys") == KEYS_URL
    assert reverse("meters:api_key_revoke", args=[7]) == "/meters/api-keys/7/revoke/"


def test_anonymous_users_are_sent_to_log_in(client: Client) -> None:
    key, _ = api_key_create(name="ci")
    revoke_url = reverse("meters:api_key_revoke", args=[key.pk])
    for method, url in [("get", KEYS_URL), ("post", KEYS_URL), ("post", revoke_url)]:
        assert_login_redirect(getattr(client, method)(url), url)
    assert ApiKey.objects.get().is_active
    assert ApiKey.objects.count() == 1


def test_the_list_shows_name_prefix_dates_and_status(
    client: Client, time_machine: TimeMachineFixture
) -> None:
    time_machine.move_to(NOW, tick=False)
    used, used_raw = api_key_create(name="billing worker")
    ingest(client, used_raw)  # sets last used
    time_machine.move_to(NOW + timedelta(hours=1), tick=False)
    revoked, _ = api_key_create(name="old laptop", scope=ApiKey.Scope.FULL)
    api_key_revoke(key=revoked)
    login(client)

    html = page(client.get(KEYS_URL))

    assert key_rows(html) == [
        [
            "old laptop",
            f"{revoked.prefix}…",
            "full",
            "2025-03-15 13:00",
            "Never",
            "Revoked 2025-03-15 13:00",
        ],
        [
            "billing worker",
            f"{used.prefix}…",
            "ingest",
            "2025-03-15 12:00",
            "2025-03-15 12:00",
            "Active",
        ],
    ]
    # Only the active key can be revoked; no page ever shows a whole key.
    table = element(html, "api-key-table")
    assert table.count('aria-label="Revoke') == 1
    assert 'aria-label="Revoke billing worker"' in table
    assert not RAW_KEY.search(html)


def test_the_list_says_what_keys_are_for_when_there_are_none(client: Client) -> None:
    html = page(login(client).get(KEYS_URL))

    assert "No API keys yet" in text(element(html, "api-key-table"))
    assert "X-API-KEY" in text(html)
    assert "http://testserver/ingest/" in text(html)


@pytest.mark.parametrize("htmx", [False, True], ids=["plain-post", "htmx"])
def test_creating_a_key_shows_it_once_and_stores_only_its_hash(client: Client, htmx: bool) -> None:
    login(client)

    response = client.post(KEYS_URL, {"name": "production backend"}, headers=HTMX if htmx else {})

    html = page(response)
    assert response.status_code == 200
    assert ("<html" in html) is not htmx
    box = element(html, "new-key")
    raw = RAW_KEY.search(box)
    assert raw is not None
    assert "Store it now; it cannot be shown again." in text(box)
    # Never copied into htmx's localStorage history cache.
    assert 'hx-history="false"' in box
    key = ApiKey.objects.get()
    assert (key.name, key.prefix, key.key_hash) == (
        "production backend",
        raw.group()[:10],
        hash_key(raw.group()),
    )
    assert raw.group() not in json.dumps(list(ApiKey.objects.values()), default=str)
    # The answer holding the key is kept by no cache, and the key is not shown again.
    assert "no-store" in response["Cache-Control"]
    later = page(client.get(KEYS_URL))
    assert raw.group() not in later
    assert element(later, "new-key") == ""
    assert key_rows(later)[0][:2] == ["production backend", f"{key.prefix}…"]


def test_the_new_key_works_against_the_ingestion_api_and_its_use_is_shown(
    client: Client,
) -> None:
    login(client)
    raw = RAW_KEY.search(element(create(client), "new-key"))
    assert raw is not None

    assert ingest(Client(), raw.group()) == 200

    assert key_rows(page(client.get(KEYS_URL)))[0][3] != "Never"


def test_a_key_needs_a_name(client: Client) -> None:
    login(client)

    html = create(client, name="   ", **HTMX)

    assert field_errors(html, "name") == ["This field is required."]
    assert element(html, "new-key") == ""
    assert not ApiKey.objects.exists()


def test_the_create_form_posts_through_htmx_with_a_plain_fallback(client: Client) -> None:
    form = element(page(login(client).get(KEYS_URL)), "api-key-form")

    assert f'action="{KEYS_URL}"' in form
    assert f'hx-post="{KEYS_URL}"' in form
    assert 'hx-target="#api-keys"' in form


@pytest.mark.parametrize("htmx", [False, True], ids=["plain-post", "htmx"])
def test_revoking_a_key_refuses_it_at_once(client: Client, htmx: bool) -> None:
    key, raw = api_key_create(name="ci")
    assert ingest(Client(), raw) == 200
    login(client)
    url = reverse("meters:api_key_revoke", args=[key.pk])

    response = client.post(url, headers=HTMX if htmx else {})

    if htmx:  # the keys region comes back, updated, with the notice
        html = page(response)
        assert "<html" not in html
        assert element(html, "api-keys").startswith('<div id="api-keys"')
    else:  # back to the list, the notice as a flash message
        assert response.status_code == 302
        assert response["Location"] == KEYS_URL
        html = page(client.get(KEYS_URL))
    assert "API key “ci”" in text(html)
    assert "revoked; requests using it now get 401." in text(html)
    assert key_rows(html)[0][5].startswith("Revoked")
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert ingest(Client(), raw) == 401


def test_revoke_asks_for_confirmation_and_needs_a_post(client: Client) -> None:
    key, _ = api_key_create(name="ci")
    login(client)
    url = reverse("meters:api_key_revoke", args=[key.pk])

    form = element(page(client.get(KEYS_URL)), "api-key-table")

    assert f'hx-post="{url}"' in form
    assert 'hx-confirm="Revoke the key “ci”?' in form
    assert client.get(url).status_code == 405
    assert ApiKey.objects.get().is_active


def test_revoking_twice_keeps_the_first_revocation_time(
    client: Client, time_machine: TimeMachineFixture
) -> None:
    time_machine.move_to(NOW, tick=False)
    key, _ = api_key_create(name="ci")
    api_key_revoke(key=key)
    time_machine.move_to(NOW + timedelta(days=1), tick=False)
    login(client)

    client.post(reverse("meters:api_key_revoke", args=[key.pk]))

    key.refresh_from_db()
    assert key.revoked_at == NOW


def test_revoking_an_unknown_key_is_404(client: Client) -> None:
    response = login(client).post(reverse("meters:api_key_revoke", args=[999]))

    assert response.status_code == 404


def test_htmx_get_answers_the_keys_region_only(client: Client) -> None:
    api_key_create(name="ci")

    response = login(client).get(KEYS_URL, headers=HTMX)

    html = page(response)
    assert "<html" not in html
    assert html.lstrip().startswith('<div id="api-keys"')
    assert "HX-Request" in response["Vary"]


def test_the_main_navigation_links_to_api_keys_after_customers(client: Client) -> None:
    html = page(login(client).get(KEYS_URL))

    nav = re.search(r'<nav class="mainnav".*?</nav>', html, re.S)
    assert nav is not None
    links = re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', nav.group())
    assert [label for _, label in links][:8] == [
        "Meters",
        "Pricing",
        "Coupons",
        "Tax rates",
        "Customers",
        "Invoices",
        "Margins",  # an Admin sees costs
        "API keys",
    ]
    assert (KEYS_URL, "API keys") in links
    # Only the section you are in is marked current.
    assert re.findall(r'aria-current="page">([^<]+)<', nav.group()) == ["API keys"]


# -- manage.py create_api_key ------------------------------------------------


def test_the_command_prints_the_key_once_and_says_it_is_not_stored() -> None:
    out = StringIO()

    call_command("create_api_key", "--name", "nightly import", stdout=out)

    output = out.getvalue()
    keys = RAW_KEY.findall(output)
    assert len(keys) == 1
    key = ApiKey.objects.get()
    assert (key.name, key.key_hash) == ("nightly import", hash_key(keys[0]))
    assert "This key is not stored" in output
    assert "cannot be shown again" in output
    assert ingest(Client(), keys[0]) == 200


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_the_command_refuses_an_empty_or_overlong_name(name: str) -> None:
    with pytest.raises(CommandError, match="--name must"):
        call_command("create_api_key", "--name", name, stdout=StringIO())
    assert not ApiKey.objects.exists()


def test_the_command_requires_a_name() -> None:
    with pytest.raises(CommandError, match="--name"):
        call_command("create_api_key", stdout=StringIO())


def test_the_command_explains_itself_in_help() -> None:
    command = load_command_class("meters", "create_api_key")

    help_text = command.create_parser("manage.py", "create_api_key").format_help()

    assert "--name NAME" in help_text
    assert "print it once" in help_text
    assert "cannot be shown again" in " ".join(help_text.split())
