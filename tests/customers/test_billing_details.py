"""A customer's billing address and own payment terms through every door:
the create and edit pages, the native API, the admin (customers.customer_rules
decides for all of them), shown on the customer page; the Amberflo-compatible
API neither shows nor clears them."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from billing_site.roles import OPERATOR
from customers.customer_rules import MAX_BILLING_ADDRESS, clean_billing_address
from customers.forms import CustomerEditForm
from customers.models import Customer
from customers.services import customer_create, customer_update
from meters.api_keys import api_key_create
from meters.models import ApiKey
from tests.fixtures import HTMX, element, field_errors, login, page, text

pytestmark = pytest.mark.django_db

CREATE_URL = reverse("customers:create")
ADDRESS = "Acme Ltd\n1 High Street\nLondon EC1A 1AA"
TOO_LONG = "x" * (MAX_BILLING_ADDRESS + 1)
TERMS_RULE = (
    "Payment terms are a whole number of days from 0 to 365; leave them empty to use the plan's."
)


def edit_url(customer: Customer) -> str:
    return reverse("customers:edit", args=[customer.pk])


@pytest.fixture
def acme() -> Customer:
    return customer_create(
        name="Acme", customer_id="acme", billing_address=ADDRESS, net_terms_days=45
    )


# The rules


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("  Acme Ltd\r\n1 High Street\r\n", "Acme Ltd\n1 High Street"),
        ("Acme Ltd\r1 High Street", "Acme Ltd\n1 High Street"),
        ("", ""),
    ],
)
def test_an_address_is_stored_stripped_with_plain_line_breaks(typed: str, stored: str) -> None:
    assert clean_billing_address(typed) == stored


# The create page


def test_the_create_page_asks_for_an_address_and_terms_with_their_help(client: Client) -> None:
    html = page(login(client, role=OPERATOR).get(CREATE_URL))

    assert "<textarea" in element(html, "field-billing_address")
    assert "Printed on invoices" in text(element(html, "field-billing_address"))
    assert "Leave empty to use the terms of the customer's plan." in text(
        element(html, "field-net_terms_days")
    )


def test_a_customer_is_created_with_an_address_and_terms_shown_on_their_page(
    client: Client,
) -> None:
    fields = {"name": "Acme", "customer_id": "acme", "email": ""}
    billing = {"billing_address": "Acme Ltd\r\n1 High Street\r\n", "net_terms_days": "45"}

    response = login(client, role=OPERATOR).post(CREATE_URL, fields | billing, follow=True)

    acme = Customer.objects.get()
    assert (acme.billing_address, acme.net_terms_days) == ("Acme Ltd\n1 High Street", 45)
    html = page(response)
    assert "Acme Ltd<br>1 High Street" in element(html, "billing-address")
    assert text(element(html, "payment-terms")) == "net 45 (the customer's own terms)"


def test_without_terms_of_their_own_the_page_says_the_plans_apply(client: Client) -> None:
    fields = {"name": "Acme", "customer_id": "acme", "net_terms_days": ""}

    response = login(client).post(CREATE_URL, fields, follow=True)

    acme = Customer.objects.get()
    assert (acme.billing_address, acme.net_terms_days) == ("", None)
    assert text(element(page(response), "payment-terms")) == "the plan's"
    assert "invoices show the name alone" in text(element(page(response), "billing-address"))


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("billing_address", TOO_LONG, "A billing address has at most 1,000 characters."),
        (
            "billing_address",
            "Acme\x07Ltd",
            "A billing address must not contain control characters (line breaks are fine).",
        ),
        ("billing_address", "Acme\x00Ltd", "Null characters are not allowed."),
        ("net_terms_days", "366", TERMS_RULE),
        ("net_terms_days", "-1", TERMS_RULE),
        ("net_terms_days", "net 30", "Enter a whole number."),
    ],
)
def test_a_bad_address_or_terms_is_shown_next_to_it_and_nothing_is_stored(
    client: Client, field: str, value: str, error: str
) -> None:
    fields = {"name": "Acme", "customer_id": "acme", field: value}

    response = login(client).post(CREATE_URL, fields, headers=HTMX)

    html = page(response)
    assert "<html" not in html
    assert field_errors(html, field) == [error]
    assert not Customer.objects.exists()


# Every door refuses what the rules refuse

# A door takes a customer document's billing fields and answers the field named.
Door = Callable[[Client, dict[str, object]], str]


def ui(client: Client, billing: dict[str, object]) -> str:
    fields = {"name": "Acme", "customer_id": "acme", **billing}
    html = page(client.post(CREATE_URL, fields))
    return next(f for f in ("billing_address", "net_terms_days") if field_errors(html, f))


def native_api(client: Client, billing: dict[str, object]) -> str:
    key = api_key_create(name="rules", scope=ApiKey.Scope.FULL)[1]
    body = {"name": "Acme", "customer_id": "acme", **billing}
    response = client.post(
        "/api/v1/customers",
        json.dumps(body),
        content_type="application/json",
        headers={"X-API-KEY": key},
    )
    assert response.status_code == 400, response.content
    [error] = response.json()["errors"]
    return str(error["field"])


def admin(client: Client, billing: dict[str, object]) -> str:
    data = {
        "name": "Acme",
        "customer_id": "acme",
        "email": "",
        "enabled": "on",
        "traits": "{}",
        "billing_address": "",
        "net_terms_days": "",
        "assignments-TOTAL_FORMS": "0",
        "assignments-INITIAL_FORMS": "0",
        "assignments-MIN_NUM_FORMS": "0",
        "assignments-MAX_NUM_FORMS": "1000",
        **billing,
    }
    response = client.post(reverse("admin:customers_customer_add"), data)
    assert response.status_code == 200
    return str(next(iter(response.context["adminform"].form.errors)))


DOORS: dict[str, Door] = {"ui": ui, "native-api": native_api, "admin": admin}


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize(
    ("billing", "field"),
    [
        pytest.param({"billing_address": TOO_LONG}, "billing_address", id="address-too-long"),
        pytest.param({"billing_address": "A\x1bB"}, "billing_address", id="address-escape"),
        pytest.param({"billing_address": "A\x00B"}, "billing_address", id="address-nul"),
        pytest.param({"net_terms_days": 366}, "net_terms_days", id="terms-over-a-year"),
    ],
)
def test_every_door_refuses_an_address_or_terms_the_rules_refuse(
    admin_client: Client, door: str, billing: dict[str, object], field: str
) -> None:
    assert DOORS[door](admin_client, billing) == field
    assert not Customer.objects.exists()


def test_the_admin_stores_the_address_as_the_pages_do(admin_client: Client) -> None:
    data = {"billing_address": "  Acme Ltd\r\n1 High Street  ", "net_terms_days": "0"}
    admin_client.post(
        reverse("admin:customers_customer_add"),
        {
            "name": "Acme",
            "customer_id": "acme",
            "enabled": "on",
            "traits": "{}",
            "assignments-TOTAL_FORMS": "0",
            "assignments-INITIAL_FORMS": "0",
            **data,
        },
    )

    acme = Customer.objects.get()
    assert (acme.billing_address, acme.net_terms_days) == ("Acme Ltd\n1 High Street", 0)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"billing_address": "Acme\ud800"}, "billing_address"),
        ({"name": "Acme\ud800"}, "name"),
        ({"customer_id": "acme\ud800"}, "customer_id"),
    ],
    ids=["address", "name", "id"],
)
def test_a_lone_surrogate_is_refused_on_its_field_not_a_server_error(
    admin_client: Client, body: dict[str, object], field: str
) -> None:
    key = api_key_create(name="rules", scope=ApiKey.Scope.FULL)[1]

    response = admin_client.post(
        "/api/v1/customers",
        json.dumps({"name": "Acme", "customer_id": "acme", **body}),  # \u escapes
        content_type="application/json",
        headers={"X-API-KEY": key},
    )

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert not Customer.objects.exists()


# The edit page


def test_the_edit_page_shows_the_stored_address_and_terms(client: Client, acme: Customer) -> None:
    html = page(login(client, role=OPERATOR).get(edit_url(acme)))

    assert ADDRESS in element(html, "field-billing_address")
    assert 'value="45"' in element(html, "field-net_terms_days")


def test_the_edit_page_changes_the_address_and_returns_to_the_plans_terms(
    client: Client, acme: Customer
) -> None:
    fields = {"name": "Acme", "email": "", "billing_address": "Acme Ltd\r\nPO Box 1"}

    response = login(client).post(edit_url(acme), fields | {"net_terms_days": ""}, follow=True)

    acme.refresh_from_db()
    assert (acme.billing_address, acme.net_terms_days) == ("Acme Ltd\nPO Box 1", None)
    assert text(element(page(response), "payment-terms")) == "the plan's"


def test_a_bad_edit_is_shown_next_to_its_field_and_changes_nothing(
    client: Client, acme: Customer
) -> None:
    fields = {"name": "Renamed", "email": "", "billing_address": TOO_LONG, "net_terms_days": "400"}

    html = page(login(client).post(edit_url(acme), fields))

    assert field_errors(html, "billing_address") == [
        "A billing address has at most 1,000 characters."
    ]
    assert field_errors(html, "net_terms_days") == [TERMS_RULE]
    acme.refresh_from_db()
    assert (acme.name, acme.billing_address, acme.net_terms_days) == ("Acme", ADDRESS, 45)


def test_an_edit_form_not_given_the_stored_values_leaves_them_alone(acme: Customer) -> None:
    # A field shown empty would be saved empty: without the stored address and
    # terms the form has no such fields, and customer_update keeps them.
    form = CustomerEditForm({"name": "Acme Inc.", "email": ""}, initial={"name": "Acme"})

    assert form.is_valid()
    customer_update(customer=acme, **form.cleaned_data)

    acme.refresh_from_db()
    assert (acme.name, acme.billing_address, acme.net_terms_days) == ("Acme Inc.", ADDRESS, 45)


# The Amberflo-compatible API


def test_an_amberflo_replace_keeps_the_address_and_terms_and_answers_as_before(
    client: Client, acme: Customer
) -> None:
    key = api_key_create(name="sdk", scope=ApiKey.Scope.INGEST)[1]

    response = client.put(
        "/amberflo/customers/",
        json.dumps({"customerId": "acme", "customerName": "Acme Corp"}),
        content_type="application/json",
        headers={"X-API-KEY": key},
    )

    assert response.status_code == 200
    assert list(response.json()) == [
        "id",
        "customerId",
        "customerName",
        "customerEmail",
        "enabled",
        "traits",
        "createTime",
        "createdByIngestion",
    ]
    acme.refresh_from_db()
    assert (acme.name, acme.billing_address, acme.net_terms_days) == ("Acme Corp", ADDRESS, 45)
