"""How a customer is taxed (country, tax ID, tax status) through every door:
the create and edit pages, the native API and the admin, held to one set of
rules (customers.customer_rules.tax_problems), shown on the customer page."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from customers.models import Customer
from customers.services import customer_create
from tests.fixtures import api_send, element, field_errors, page, text

pytestmark = pytest.mark.django_db

CREATE_URL = reverse("customers:create")
VALID_DE = "DE136695976"  # a VAT number with a valid check digit
BAD_DE = "DE136695977"
BAD_DE_MESSAGE = (
    "This is not a valid EU VAT number for Germany: "
    "The number's checksum or check digit is invalid."
)
REVERSE_NEEDS_ID = "A reverse-charge customer needs a tax ID: the invoice must show it."


def test_the_create_page_stores_a_vat_number_compact_and_the_page_shows_it(
    admin_client: Client,
) -> None:
    fields = {"name": "Acme GmbH", "customer_id": "acme", "country": "DE"}
    fields |= {"tax_id": "de 136 695 976", "tax_status": "reverse_charge"}

    response = admin_client.post(CREATE_URL, fields, follow=True)

    acme = Customer.objects.get()
    assert (acme.country.code, acme.tax_id, acme.tax_status) == ("DE", VALID_DE, "reverse_charge")
    assert text(element(page(response), "tax-details")) == (
        f"Reverse charge · Germany · tax ID {VALID_DE}"
    )


@pytest.mark.parametrize(
    ("typed", "field", "message"),
    [
        ({"country": "DE", "tax_id": BAD_DE}, "tax_id", BAD_DE_MESSAGE),
        ({"tax_status": "reverse_charge"}, "tax_id", REVERSE_NEEDS_ID),
        (
            {"country": "ZZ"},
            "country",
            "Select a valid choice. ZZ is not one of the available choices.",
        ),
    ],
)
def test_the_create_page_puts_a_broken_tax_rule_next_to_its_field(
    admin_client: Client, typed: dict[str, str], field: str, message: str
) -> None:
    html = page(admin_client.post(CREATE_URL, {"name": "Acme", "customer_id": "acme", **typed}))

    assert field_errors(html, field) == [message]
    assert not Customer.objects.exists()


def test_a_tax_id_outside_the_eu_is_kept_as_typed(admin_client: Client) -> None:
    fields = {"name": "Acme Inc", "customer_id": "acme", "country": "US", "tax_id": " 12-3456789 "}

    admin_client.post(CREATE_URL, fields)

    assert Customer.objects.get().tax_id == "12-3456789"


def test_the_edit_page_changes_the_tax_details(admin_client: Client) -> None:
    acme = customer_create(name="Acme", customer_id="acme")
    fields = {"name": "Acme", "email": "", "billing_address": "", "net_terms_days": ""}
    fields |= {"country": "FR", "tax_id": "", "tax_status": "exempt"}

    admin_client.post(reverse("customers:edit", args=[acme.pk]), fields)

    acme.refresh_from_db()
    assert (acme.country.code, acme.tax_status) == ("FR", "exempt")


def test_the_api_creates_and_patches_only_what_it_is_sent(client: Client) -> None:
    status, created = api_send(
        client,
        "post",
        "/api/v1/customers",
        {"name": "Acme", "customer_id": "acme", "country": "de", "tax_id": VALID_DE},
    )
    assert status == 201
    assert (created["country"], created["tax_id"], created["tax_status"]) == (
        "DE",
        VALID_DE,
        "taxable",
    )

    status, patched = api_send(
        client, "patch", f"/api/v1/customers/{created['id']}", {"tax_status": "reverse_charge"}
    )

    assert status == 200
    assert (patched["country"], patched["tax_id"], patched["tax_status"]) == (
        "DE",
        VALID_DE,
        "reverse_charge",
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"country": "DE", "tax_id": BAD_DE}, "tax_id"),
        ({"country": "ZZ"}, "country"),
        ({"tax_status": "sometimes"}, "tax_status"),
        ({"tax_status": "reverse_charge"}, "tax_id"),
    ],
)
def test_the_api_names_the_field_of_a_broken_tax_rule(
    client: Client, body: dict[str, str], field: str
) -> None:
    status, answer = api_send(
        client, "post", "/api/v1/customers", {"name": "Acme", "customer_id": "acme", **body}
    )

    assert status == 400
    assert [e["field"] for e in answer["errors"]] == [field]
    assert not Customer.objects.exists()


def test_the_admin_holds_the_same_rules(admin_client: Client) -> None:
    data = {
        "name": "Acme",
        "customer_id": "acme",
        "enabled": "on",
        "traits": "{}",
        "country": "DE",
        "tax_id": BAD_DE,
        "tax_status": "taxable",
        "assignments-TOTAL_FORMS": "0",
        "assignments-INITIAL_FORMS": "0",
        "assignments-MIN_NUM_FORMS": "0",
        "assignments-MAX_NUM_FORMS": "1000",
    }

    response = admin_client.post(reverse("admin:customers_customer_add"), data)

    assert response.context["adminform"].form.errors == {"tax_id": [BAD_DE_MESSAGE]}
    data["tax_id"] = "de 136 695 976"
    admin_client.post(reverse("admin:customers_customer_add"), data)
    assert Customer.objects.get().tax_id == VALID_DE
