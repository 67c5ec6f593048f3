"""The audit trail: a change through each door (the pages, the native API, the
Amberflo API, ingestion, the admin, a command) is recorded with the door, who
made it and the values before and after; using an API key or logging in is
not a change; a password's hash is never written; the Activity page filters
by object, person and day, is for Admins only, and stays at a flat number of
queries however many entries it lists."""

from __future__ import annotations

import getpass
import json
import re
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection, models
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from time_machine import TimeMachineFixture

from billing_site.roles import ADMIN, VIEWER
from customers.models import Customer
from customers.services import customer_create
from meters.api_keys import LAST_USED_RESOLUTION, api_key_create
from meters.models import ApiKey
from pricing.models import Plan, PriceCell, Rate
from pricing.schema import plan_to_dict
from pricing.selectors import plan_draft
from tests.factories import guide_setup
from tests.fixtures import element, login, page, text, user_with_role

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
ACTIVITY = "/activity/"


def entries_for(model: type[models.Model], pk: object = None) -> list[LogEntry]:
    found = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(model))
    if pk is not None:
        found = found.filter(object_pk=str(pk))
    return list(found.order_by("timestamp", "pk"))


def the_entry(model: type[models.Model], pk: object = None) -> LogEntry:
    found = entries_for(model, pk)
    assert len(found) == 1, [(e.action, e.changes) for e in found]
    return found[0]


def door_and_who(entry: LogEntry) -> tuple[str, str]:
    data = entry.additional_data or {}
    return data.get("door", ""), data.get("who", "")


def auditor(client: Client) -> User:
    """Log `client` in as a user with the Admin role, who may read the trail."""
    user = user_with_role(ADMIN)
    client.force_login(user)
    return user


# -- Each door -----------------------------------------------------------------


def test_a_customer_created_on_its_page_is_recorded_with_the_user_and_the_values(
    client: Client,
) -> None:
    user = auditor(client)

    client.post(reverse("customers:create"), {"name": "Acme", "customer_id": "acme"})

    customer = Customer.objects.get(customer_id="acme")
    entry = the_entry(Customer, customer.pk)
    assert entry.action == LogEntry.Action.CREATE
    assert entry.actor == user
    assert door_and_who(entry) == ("ui", user.username)
    assert entry.remote_addr == "127.0.0.1"
    assert entry.changes_dict["name"] == ["None", "Acme"]
    assert entry.changes_dict["customer_id"] == ["None", "acme"]


def test_a_customer_renamed_on_its_edit_page_is_recorded_before_and_after(
    client: Client,
) -> None:
    customer = customer_create(name="Acme", customer_id="acme")
    user = auditor(client)

    client.post(reverse("customers:edit", args=[customer.pk]), {"name": "Acme Inc.", "email": ""})

    update = entries_for(Customer, customer.pk)[-1]
    assert update.action == LogEntry.Action.UPDATE
    assert update.actor == user
    assert door_and_who(update) == ("ui", user.username)
    assert update.changes_dict["name"] == ["Acme", "Acme Inc."]


def test_a_customer_created_through_the_native_api_names_the_key() -> None:
    key, raw = api_key_create(name="billing sync", scope=ApiKey.Scope.FULL)
    client = Client(headers={"X-API-KEY": raw})

    response = client.post(
        "/api/v1/customers",
        json.dumps({"name": "Acme", "customer_id": "acme"}),
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    entry = the_entry(Customer, response.json()["id"])
    assert entry.actor is None
    assert door_and_who(entry) == ("api", f"key billing sync ({key.prefix}…)")
    assert entry.changes_dict["name"] == ["None", "Acme"]


def test_a_customer_created_through_the_amberflo_api_is_recorded_with_its_door() -> None:
    key, raw = api_key_create(name="sdk")
    client = Client(headers={"X-API-KEY": raw})
    body = {"customerId": "acme", "customerName": "Acme Inc.", "enabled": True, "traits": {}}

    response = client.post(
        "/amberflo/customers/", json.dumps(body), content_type="application/json"
    )

    assert response.status_code == 200, response.content
    entry = the_entry(Customer, Customer.objects.get(customer_id="acme").pk)
    assert door_and_who(entry) == ("amberflo", f"key sdk ({key.prefix}…)")
    assert entry.changes_dict["name"] == ["None", "Acme Inc."]


def test_customers_created_by_ingestion_are_recorded_once_each(
    time_machine: TimeMachineFixture,
) -> None:
    time_machine.move_to(NOW, tick=False)
    guide_setup(NOW, events=False)
    key, raw = api_key_create(name="sdk")
    client = Client(headers={"X-API-KEY": raw})
    known = Customer.objects.get().customer_id

    def event(unique_id: str, customer_id: str) -> dict[str, object]:
        millis = int((NOW - timedelta(minutes=1)).timestamp() * 1000)
        return {
            "uniqueId": unique_id,
            "meterApiName": "api-calls",
            "meterValue": 1,
            "customerId": customer_id,
            "meterTimeInMillis": millis,
        }

    batch = [event("1", "new-a"), event("2", "new-b"), event("3", "new-a"), event("4", known)]
    first = client.post("/ingest/", json.dumps(batch), content_type="application/json")
    again = client.post(
        "/ingest/", json.dumps([event("5", "new-a")]), content_type="application/json"
    )

    assert (first.status_code, again.status_code) == (200, 200)
    created = [e for e in entries_for(Customer) if e.action == LogEntry.Action.CREATE]
    by_ingestion = [e for e in created if door_and_who(e)[0] == "ingest"]
    assert sorted(e.object_repr for e in by_ingestion) == ["new-a (new-a)", "new-b (new-b)"]
    for entry in by_ingestion:
        assert door_and_who(entry) == ("ingest", f"key sdk ({key.prefix}…)")
        assert entry.changes_dict["created_by_ingestion"] == ["None", "True"]
        assert entry.object_id == Customer.objects.get(customer_id=entry.object_repr[:5]).pk


def test_a_name_changed_in_the_admin_is_recorded_with_the_admin_door(
    admin_client: Client, admin_user: User
) -> None:
    customer = customer_create(name="Acme", customer_id="acme")
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    form = {
        "name": "Acme Inc.",
        "email": "",
        "enabled": "on",
        "traits": "{}",
        "assignments-TOTAL_FORMS": "0",
        "assignments-INITIAL_FORMS": "0",
        "assignments-MIN_NUM_FORMS": "0",
        "assignments-MAX_NUM_FORMS": "1000",
    }

    response = admin_client.post(url, form)

    assert response.status_code == 302, text(page(response))[:2000]
    update = entries_for(Customer, customer.pk)[-1]
    assert update.action == LogEntry.Action.UPDATE
    assert update.actor == admin_user
    assert door_and_who(update) == ("admin", admin_user.username)
    assert update.changes_dict["name"] == ["Acme", "Acme Inc."]


def test_a_key_made_by_create_api_key_is_recorded_as_that_command() -> None:
    call_command("create_api_key", "--name", "nightly export", stdout=StringIO())

    key = ApiKey.objects.get()
    entry = the_entry(ApiKey, key.pk)
    assert entry.actor is None
    assert door_and_who(entry) == ("command:create_api_key", f"system user {getpass.getuser()}")
    assert entry.changes_dict["name"] == ["None", "nightly export"]
    assert "key_hash" not in entry.changes_dict
    assert key.key_hash not in json.dumps(entry.changes)


def test_a_plan_imported_by_import_plan_records_the_plan_its_rates_and_every_price(
    tmp_path: Path,
) -> None:
    plan = guide_setup(NOW, events=False).plan
    document = plan_to_dict(plan_draft(plan))
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(document))
    LogEntry.objects.all().delete()

    call_command("import_plan", str(path), "--name", "Imported", stdout=StringIO())

    imported = Plan.objects.get(name="Imported")
    door = "command:import_plan"
    assert door_and_who(the_entry(Plan, imported.pk))[0] == door
    rates = Rate.objects.filter(plan=imported)
    cells = PriceCell.objects.filter(rate__plan=imported)
    assert rates.exists() and cells.exists()
    for rate in rates:
        assert door_and_who(the_entry(Rate, rate.pk))[0] == door
    for cell in cells:
        entry = the_entry(PriceCell, cell.pk)
        assert door_and_who(entry)[0] == door
        assert entry.changes_dict["unit_price"][0] == "None"


# -- What is not a change -------------------------------------------------------


def test_using_an_api_key_writes_no_entry(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(NOW, tick=True)
    key, raw = api_key_create(name="reader", scope=ApiKey.Scope.FULL)
    client = Client(headers={"X-API-KEY": raw})
    before = LogEntry.objects.count()

    client.get("/api/v1/customers")
    time_machine.move_to(NOW + 2 * LAST_USED_RESOLUTION, tick=True)
    client.get("/api/v1/customers")

    key.refresh_from_db()
    assert key.last_used_at is not None and key.last_used_at > NOW  # used, and marked so
    assert LogEntry.objects.count() == before


def test_a_password_change_is_recorded_without_the_hash(client: Client) -> None:
    user = User.objects.create_user("ops", password="first-password")
    old_hash = user.password

    user.set_password("second-password")
    user.save()
    client.force_login(user)  # sets last_login, which is not a change

    update = entries_for(User, user.pk)[-1]
    assert update.action == LogEntry.Action.UPDATE
    assert set(update.changes_dict) == {"password"}
    assert update.changes_dict["password"] == ["(hidden)", "(hidden)"]
    stored = json.dumps([e.changes for e in entries_for(User, user.pk)])
    assert old_hash not in stored and user.password not in stored
    assert "pbkdf2" not in stored and "md5$" not in stored


def test_a_role_given_to_a_user_is_recorded(client: Client) -> None:
    user = user_with_role(VIEWER)

    entry = [e for e in entries_for(User, user.pk) if "groups" in e.changes_dict][-1]
    assert entry.changes_dict["groups"]["operation"] == "add"
    assert entry.changes_dict["groups"]["objects"] == [VIEWER]


# -- The Activity page ----------------------------------------------------------


def activity_rows(client: Client, **params: str) -> list[str]:
    html = page(client.get(ACTIVITY, params))
    table = element(html, "activity-table")
    return [text(row) for row in re.findall(r"<tr\b[^>]*>(.*?)</tr>", table, re.S)[1:]]


def test_activity_lists_changes_with_who_door_and_before_and_after(client: Client) -> None:
    user = auditor(client)
    client.post(reverse("customers:create"), {"name": "Acme", "customer_id": "acme"})
    customer = Customer.objects.get(customer_id="acme")
    client.post(reverse("customers:edit", args=[customer.pk]), {"name": "Acme Inc.", "email": ""})

    response = client.get(ACTIVITY)

    assert response.status_code == 200
    rows = activity_rows(client, type="customers.customer")
    assert len(rows) == 2
    assert user.username in rows[0] and "ui" in rows[0] and "update" in rows[0]
    assert "name: Acme → Acme Inc." in rows[0]
    assert f'href="{customer.get_absolute_url()}"' in page(response)


def test_activity_filters_by_object_person_and_day(
    client: Client, time_machine: TimeMachineFixture
) -> None:
    time_machine.move_to(NOW, tick=False)
    first = customer_create(name="First", customer_id="first")
    time_machine.move_to(NOW + timedelta(days=2), tick=False)
    auditor(client)
    call_command("create_api_key", "--name", "robot", stdout=StringIO())
    second = customer_create(name="Second", customer_id="second")

    by_object = activity_rows(client, type="customers.customer", id=str(first.pk))
    by_person = activity_rows(client, person="system user")
    by_day = activity_rows(client, day_from="2025-03-17", day_to="2025-03-17")
    before = activity_rows(client, day_to="2025-03-15")

    assert len(by_object) == 1 and "First" in by_object[0]
    assert len(by_person) == 1 and "robot" in by_person[0]
    assert any("Second" in row for row in by_day) and not any("First" in r for r in by_day)
    assert [row for row in before if "Customer" in row] == [row for row in before if "First" in row]
    assert second.pk != first.pk


def test_each_objects_page_links_to_its_history(client: Client) -> None:
    guide = guide_setup(NOW, events=False)
    auditor(client)

    pages = {
        "meters.meter": (reverse("meters:detail", args=[guide.api_calls.pk]), guide.api_calls.pk),
        "pricing.plan": (guide.plan.get_absolute_url(), guide.plan.pk),
        "customers.customer": (guide.customer.get_absolute_url(), guide.customer.pk),
    }
    for kind, (url, pk) in pages.items():
        link = element(page(client.get(url)), "history-link")
        assert f"/activity/?type={kind}&amp;id={pk}" in link, (kind, link)


def test_a_viewer_is_refused_the_activity_page_and_sees_no_history_links(
    client: Client,
) -> None:
    customer = customer_create(name="Acme", customer_id="acme")
    login(client, VIEWER)

    assert client.get(ACTIVITY).status_code == 403
    assert element(page(client.get(customer.get_absolute_url())), "history-link") == ""
    assert 'href="/activity/"' not in page(client.get(customer.get_absolute_url()))


def test_the_admin_role_may_see_the_activity_page(client: Client) -> None:
    login(client, ADMIN)

    assert client.get(ACTIVITY).status_code == 200
    assert 'href="/activity/"' in page(client.get(ACTIVITY))


def test_the_activity_page_runs_the_same_queries_for_200_entries_as_for_a_few(
    client: Client, django_assert_max_num_queries: Any
) -> None:
    guide_setup(NOW, events=False)  # entries for every kind of object
    auditor(client)
    client.get(ACTIVITY)  # content types cached, as on a running server

    with CaptureQueriesContext(connection) as few:
        client.get(ACTIVITY)
    for n in range(200):
        customer_create(name=f"Customer {n}", customer_id=f"c-{n}")

    with django_assert_max_num_queries(len(few)):
        response = client.get(ACTIVITY)
    with django_assert_max_num_queries(len(few)):
        client.get(ACTIVITY, {"page": "3"})

    assert response.status_code == 200
    assert len(activity_rows(client)) == 50
