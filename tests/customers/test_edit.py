"""Editing a customer: its name and email change, held to the create rules
(customers.customer_rules, the email field's validators) on the page and
through PATCH /api/v1/customers/{id}; the customer ID is shown, fixed."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from django.test import Client
from django.urls import reverse

from billing_site.roles import OPERATOR, VIEWER
from customers.models import Customer
from meters.api_keys import api_key_create
from meters.models import ApiKey
from tests.api.conftest import Api, errors
from tests.factories import CustomerFactory
from tests.fixtures import HTMX, element, field_errors, login, page, text

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer() -> Customer:
    return CustomerFactory.create(name="Test Customer", customer_id="test-customer", email="")


@pytest.fixture
def api() -> Api:
    return Api(api_key_create(name="edit tests", scope=ApiKey.Scope.FULL)[1])


def edit_url(customer: Customer) -> str:
    return reverse("customers:edit", args=[customer.pk])


def patch(api: Api, customer: Customer, body: object) -> Response:
    return api.client.patch(
        f"/api/v1/customers/{customer.pk}", json.dumps(body), content_type="application/json"
    )


def test_the_edit_page_shows_name_and_email_and_the_fixed_id_with_the_reason(
    client: Client, customer: Customer
) -> None:
    html = page(login(client).get(edit_url(customer)))

    assert 'value="Test Customer"' in element(html, "field-name")
    assert element(html, "field-email")
    assert 'name="customer_id"' not in html
    assert "test-customer" in text(element(html, "fixed-fields"))
    assert "usage events carry it as their customerId" in text(html)


def test_a_new_name_and_email_are_saved_stripped(client: Client, customer: Customer) -> None:
    login(client)

    response = client.post(
        edit_url(customer), {"name": " Acme Ltd ", "email": " billing@acme.test "}, follow=True
    )

    customer.refresh_from_db()
    assert (customer.name, customer.email, customer.customer_id) == (
        "Acme Ltd",
        "billing@acme.test",
        "test-customer",
    )
    assert response.redirect_chain[-1][0] == customer.get_absolute_url()
    assert "Customer “Acme Ltd” saved." in text(page(response))


def test_a_customer_made_by_ingestion_is_no_longer_marked_so_once_described(
    client: Client,
) -> None:
    stub = CustomerFactory.create(name="cust-9", customer_id="cust-9", created_by_ingestion=True)

    login(client).post(edit_url(stub), {"name": "Nine Inc", "email": ""})

    stub.refresh_from_db()
    assert (stub.name, stub.created_by_ingestion) == ("Nine Inc", False)


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"name": "  ", "email": ""}, "name", "A customer name is required."),
        ({"name": "x" * 201, "email": ""}, "name", "A customer name has at most 200 characters."),
        (
            {"name": "A\x01B", "email": ""},
            "name",
            "A customer name must not contain control characters.",
        ),
        ({"name": "Acme", "email": "not-an-email"}, "email", "Enter a valid email address."),
    ],
)
def test_a_field_breaking_a_create_rule_is_refused_next_to_it(
    client: Client, customer: Customer, fields: dict[str, str], field: str, reason: str
) -> None:
    response = login(client).post(edit_url(customer), fields)

    assert response.status_code == 200
    assert field_errors(page(response), field) == [reason]
    customer.refresh_from_db()
    assert (customer.name, customer.email) == ("Test Customer", "")


def test_an_htmx_edit_with_an_error_answers_the_form_alone(
    client: Client, customer: Customer
) -> None:
    response = login(client).post(edit_url(customer), {"name": "", "email": ""}, headers=HTMX)

    html = page(response)
    assert "<html" not in html
    assert field_errors(html, "name") == ["A customer name is required."]


def test_an_operator_may_edit_a_customer(client: Client, customer: Customer) -> None:
    login(client, role=OPERATOR)

    response = client.post(edit_url(customer), {"name": "Renamed", "email": ""})

    assert response.status_code == 302
    assert f'href="{edit_url(customer)}"' in page(client.get(customer.get_absolute_url()))


def test_a_viewer_cannot_open_or_post_the_edit_page_nor_sees_its_link(
    client: Client, customer: Customer
) -> None:
    login(client, role=VIEWER)

    assert client.get(edit_url(customer)).status_code == 403
    assert client.post(edit_url(customer), {"name": "Renamed", "email": ""}).status_code == 403
    assert edit_url(customer) not in page(client.get(customer.get_absolute_url()))
    customer.refresh_from_db()
    assert customer.name == "Test Customer"


# PATCH /api/v1/customers/{id}


def test_the_api_changes_only_the_fields_sent(api: Api, customer: Customer) -> None:
    response = patch(api, customer, {"email": "billing@acme.test"})

    assert response.status_code == 200
    assert (response.json()["name"], response.json()["email"]) == (
        "Test Customer",
        "billing@acme.test",
    )
    customer.refresh_from_db()
    assert customer.email == "billing@acme.test"


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"name": " "}, "name", "A customer name is required."),
        ({"email": "nope"}, "email", "Enter a valid email address."),
    ],
)
def test_the_api_refuses_a_field_breaking_a_create_rule_on_that_field(
    api: Api, customer: Customer, body: dict[str, str], field: str, reason: str
) -> None:
    response = patch(api, customer, body)

    assert response.status_code == 400
    assert errors(response) == [(field, reason)]


def test_the_api_refuses_to_change_the_customer_id_naming_it(api: Api, customer: Customer) -> None:
    response = patch(api, customer, {"customer_id": "other"})

    assert response.status_code == 422
    assert [f for f, _ in errors(response)] == ["customer_id"]
    customer.refresh_from_db()
    assert customer.customer_id == "test-customer"
