"""Each customer rule through each door: the create page, the native API,
the Amberflo-compatible API and the admin refuse the same customer IDs and
names (customers.customer_rules), so no door stores an ID that ingestion could
never match."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from customers.customer_rules import MAX_CUSTOMER_ID, customer_id_problem
from customers.models import Customer
from meters.api_keys import api_key_create
from meters.models import ApiKey
from tests.fixtures import field_errors, page

pytestmark = pytest.mark.django_db

# A door takes (customer_id, name) and answers (field named, message shown).
Door = Callable[[Client, str, str], tuple[str, str]]


def ui(client: Client, customer_id: str, name: str) -> tuple[str, str]:
    response = client.post(reverse("customers:create"), {"name": name, "customer_id": customer_id})
    assert response.status_code == 200
    html = page(response)
    for field in ("customer_id", "name"):
        if errors := field_errors(html, field):
            return field, errors[0]
    return "", ""


def native_api(client: Client, customer_id: str, name: str) -> tuple[str, str]:
    key = api_key_create(name="rules", scope=ApiKey.Scope.FULL)[1]
    response = client.post(
        "/api/v1/customers",
        json.dumps({"name": name, "customer_id": customer_id}),
        content_type="application/json",
        headers={"X-API-KEY": key},
    )
    assert response.status_code == 400, response.content
    [error] = response.json()["errors"]
    return error["field"], error["reason"]


def amberflo_api(client: Client, customer_id: str, name: str) -> tuple[str, str]:
    key = api_key_create(name="rules", scope=ApiKey.Scope.FULL)[1]
    response = client.post(
        "/amberflo/customers/",
        json.dumps({"customerId": customer_id, "customerName": name}),
        content_type="application/json",
        headers={"X-API-KEY": key},
    )
    assert response.status_code == 400, response.content
    body = response.json()
    fields = {"customerId": "customer_id", "customerName": "name"}
    return fields.get(body["field"], body["field"]), body["error"]


def admin(client: Client, customer_id: str, name: str) -> tuple[str, str]:
    data = {
        "name": name,
        "customer_id": customer_id,
        "email": "",
        "enabled": "on",
        "traits": "{}",
        "assignments-TOTAL_FORMS": "0",
        "assignments-INITIAL_FORMS": "0",
        "assignments-MIN_NUM_FORMS": "0",
        "assignments-MAX_NUM_FORMS": "1000",
    }
    response = client.post(reverse("admin:customers_customer_add"), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    field = next(iter(errors))
    return field, errors[field][0]


DOORS = {"ui": ui, "native-api": native_api, "amberflo-api": amberflo_api, "admin": admin}

TOO_LONG = "c" * (MAX_CUSTOMER_ID + 1)


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize(
    ("customer_id", "name", "field"),
    [
        pytest.param("   ", "Acme", "customer_id", id="id-of-spaces"),
        pytest.param("ac\x00me", "Acme", "customer_id", id="id-with-nul"),
        pytest.param("ac\x01me", "Acme", "customer_id", id="id-with-control-character"),
        pytest.param("ac\nme", "Acme", "customer_id", id="id-with-newline"),
        pytest.param(TOO_LONG, "Acme", "customer_id", id="id-too-long"),
        pytest.param("acme", "   ", "name", id="name-of-spaces"),
        pytest.param("acme", "Ac\x00me", "name", id="name-with-nul"),
    ],
)
def test_every_door_refuses_a_customer_the_rules_refuse(
    admin_client: Client, door: str, customer_id: str, name: str, field: str
) -> None:
    named, message = DOORS[door](admin_client, customer_id, name)

    assert named == field
    assert message
    assert not Customer.objects.exists()


@pytest.mark.parametrize("door", ["native-api", "amberflo-api"])
def test_the_apis_give_the_rule_s_own_reason(admin_client: Client, door: str) -> None:
    # The forms' own field checks (required, no NUL, length) may speak first on
    # the pages; the APIs answer with the rule's words.
    _, message = DOORS[door](admin_client, "ac\x01me", "Acme")

    assert message == customer_id_problem("ac\x01me")


# Not the Amberflo API: a POST there for an existing ID replaces that customer
# (its documented upsert).
@pytest.mark.parametrize("door", ["ui", "native-api", "admin"])
def test_every_door_refuses_a_taken_customer_id_on_the_id(admin_client: Client, door: str) -> None:
    Customer.objects.create(name="Acme", customer_id="acme")

    named, message = DOORS[door](admin_client, "acme", "Acme again")

    assert named == "customer_id"
    assert message == "Customer with this Customer ID already exists."
    assert Customer.objects.count() == 1


def test_the_page_and_the_native_api_store_the_id_stripped(admin_client: Client) -> None:
    admin_client.post(reverse("customers:create"), {"name": "Acme", "customer_id": "  acme  "})
    key = api_key_create(name="rules", scope=ApiKey.Scope.FULL)[1]
    admin_client.post(
        "/api/v1/customers",
        json.dumps({"name": " Beta ", "customer_id": " beta\t"}),
        content_type="application/json",
        headers={"X-API-KEY": key},
    )

    stored = dict(Customer.objects.values_list("customer_id", "name"))
    assert stored == {"acme": "Acme", "beta": "Beta"}


@pytest.mark.parametrize(
    ("customer_id", "problem"),
    [
        ("acme", ""),
        ("acme corp", ""),  # inner spaces are matched exactly by ingestion
        ("c" * MAX_CUSTOMER_ID, ""),
        ("", "A customer ID is required."),
        (TOO_LONG, f"A customer ID has at most {MAX_CUSTOMER_ID} characters."),
        ("a\x00b", "A customer ID must not contain control characters."),
        ("a\x7fb", "A customer ID must not contain control characters."),
    ],
)
def test_customer_id_rule(customer_id: str, problem: str) -> None:
    assert customer_id_problem(customer_id) == problem
