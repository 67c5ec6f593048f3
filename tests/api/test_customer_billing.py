"""A customer's billing address and own payment terms over the native API:
POST /customers and PATCH /customers/{id} take them by the customer rules,
GET answers them, and a broken rule is a JSON error naming the field."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from customers.models import Customer
from customers.services import customer_create
from tests.api.conftest import Api, errors, fields

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db

ADDRESS = "Acme Ltd\n1 High Street\nLondon"
TERMS_RULE = (
    "Payment terms are a whole number of days from 0 to 365; leave them empty to use the plan's."
)


def patch(api: Api, customer: Customer, body: object) -> Response:
    return api.client.patch(
        f"/api/v1/customers/{customer.pk}", json.dumps(body), content_type="application/json"
    )


def stored(customer: Customer) -> tuple[str, str, int | None]:
    customer.refresh_from_db()
    return customer.name, customer.billing_address, customer.net_terms_days


@pytest.fixture
def acme() -> Customer:
    return customer_create(
        name="Acme", customer_id="acme", billing_address=ADDRESS, net_terms_days=45
    )


def test_a_customer_is_created_with_an_address_and_terms_and_read_back(api: Api) -> None:
    body = {"name": "Acme", "customer_id": "acme", "billing_address": "  Acme Ltd\r\nLondon "}

    created = api.post("/customers", body | {"net_terms_days": 0})
    fetched = api.get(f"/customers/{created.json()['id']}")

    assert created.status_code == 201
    assert (created.json()["billing_address"], created.json()["net_terms_days"]) == (
        "Acme Ltd\nLondon",
        0,
    )
    assert fetched.json() == created.json()


def test_left_out_there_is_no_address_and_the_plans_terms_apply(api: Api) -> None:
    created = api.post("/customers", {"name": "Acme", "customer_id": "acme"}).json()

    assert (created["billing_address"], created["net_terms_days"]) == ("", None)
    listed = api.get("/customers").json()["items"]
    assert (listed[0]["billing_address"], listed[0]["net_terms_days"]) == ("", None)


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"net_terms_days": 366}, "net_terms_days", TERMS_RULE),
        ({"net_terms_days": -5}, "net_terms_days", TERMS_RULE),
        (
            {"billing_address": "x" * 1001},
            "billing_address",
            "A billing address has at most 1,000 characters.",
        ),
        (
            {"billing_address": "Acme\u0000Ltd"},
            "billing_address",
            "A billing address must not contain control characters (line breaks are fine).",
        ),
    ],
    ids=["terms-over-a-year", "negative-terms", "address-too-long", "address-nul"],
)
def test_a_broken_rule_is_400_naming_the_field(
    api: Api, body: dict[str, object], field: str, reason: str
) -> None:
    response = api.post("/customers", {"name": "Acme", "customer_id": "acme"} | body)

    assert response.status_code == 400
    assert errors(response) == [(field, reason)]
    assert not Customer.objects.exists()


def test_every_broken_rule_is_answered_at_once(api: Api) -> None:
    body = {"name": " ", "customer_id": "acme", "billing_address": "x" * 1001}

    response = api.post("/customers", body | {"net_terms_days": 400})

    assert fields(response) == ["name", "billing_address", "net_terms_days"]


@pytest.mark.parametrize(
    "body",
    [{"net_terms_days": "30"}, {"net_terms_days": 30.5}, {"billing_address": ["Acme"]}],
    ids=["text-terms", "fraction", "address-list"],
)
def test_a_wrong_type_is_422_naming_the_field(api: Api, body: dict[str, object]) -> None:
    response = api.post("/customers", {"name": "Acme", "customer_id": "acme"} | body)

    assert response.status_code == 422
    assert fields(response) == list(body)


def test_patch_changes_the_address_and_keeps_what_it_leaves_out(api: Api, acme: Customer) -> None:
    response = patch(api, acme, {"billing_address": "Acme Ltd\nPO Box 1"})

    assert response.status_code == 200
    assert stored(acme) == ("Acme", "Acme Ltd\nPO Box 1", 45)
    assert response.json()["net_terms_days"] == 45


def test_patch_with_null_terms_returns_to_the_plans(api: Api, acme: Customer) -> None:
    response = patch(api, acme, {"net_terms_days": None})

    assert response.status_code == 200
    assert stored(acme) == ("Acme", ADDRESS, None)


def test_patch_of_other_fields_keeps_the_address_and_terms(api: Api, acme: Customer) -> None:
    patch(api, acme, {"name": "Acme Corp"})

    assert stored(acme) == ("Acme Corp", ADDRESS, 45)


def test_patch_with_a_broken_rule_changes_nothing(api: Api, acme: Customer) -> None:
    response = patch(api, acme, {"name": "Acme Corp", "net_terms_days": 999})

    assert response.status_code == 400
    assert errors(response) == [("net_terms_days", TERMS_RULE)]
    assert stored(acme) == ("Acme", ADDRESS, 45)
