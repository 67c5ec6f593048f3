"""GET/POST/PUT /amberflo/customers/ through the test client: what
Amberflo's CustomerApiClient needs (COMPAT.md), the 400s, and auth."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import IntegrityError
from django.test import Client
from time_machine import TimeMachineFixture

from customers.amberflo_api import parse_customer
from customers.models import Customer
from customers.services import customer_replace
from meters.api_keys import api_key_create, api_key_revoke
from meters.machine_http import BadRequest
from meters.models import ApiKey
from meters.services import events_ingest
from tests.factories import CustomerFactory, MeterFactory

CUSTOMERS = "/amberflo/customers/"

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client: Client) -> Client:
    client.defaults["HTTP_X_API_KEY"] = api_key_create(name="customers")[1]
    return client


def send(client: Client, method: str, body: object, path: str = CUSTOMERS) -> Any:
    return getattr(client, method)(path, json.dumps(body), content_type="application/json")


ACME = {
    "customerId": "acme",
    "customerName": "Acme Inc.",
    "customerEmail": "billing@acme.test",
    "enabled": True,
    "traits": {"region": "us-east-1", "stripeId": "cus_123"},
}


def test_post_creates_the_customer_and_answers_it(
    api: Client, time_machine: TimeMachineFixture
) -> None:
    time_machine.move_to(datetime(2025, 3, 15, 12, 0, tzinfo=UTC), tick=False)

    response = send(api, "post", ACME)

    assert response.status_code == 200
    assert response.json() == {
        "id": "acme",
        "customerId": "acme",
        "customerName": "Acme Inc.",
        "customerEmail": "billing@acme.test",
        "enabled": True,
        "traits": {"region": "us-east-1", "stripeId": "cus_123"},
        "createTime": 1742040000000,
        "createdByIngestion": False,
    }
    acme = Customer.objects.get(customer_id="acme")
    assert (acme.name, acme.email, acme.enabled) == ("Acme Inc.", "billing@acme.test", True)
    assert acme.traits == {"region": "us-east-1", "stripeId": "cus_123"}


def test_post_with_only_the_required_fields(api: Client) -> None:
    response = send(api, "post", {"customerId": "min", "customerName": "Minimal"})

    assert response.status_code == 200
    body = response.json()
    assert (body["customerEmail"], body["enabled"], body["traits"]) == (None, True, {})


def test_stripe_flag_is_accepted_and_ignored(api: Client) -> None:
    response = send(api, "post", ACME, CUSTOMERS + "?autoCreateCustomerInStripe=true")

    assert response.status_code == 200
    assert Customer.objects.filter(customer_id="acme").exists()


def test_post_on_an_existing_customer_replaces_it(api: Client) -> None:
    send(api, "post", ACME)

    response = send(api, "post", {"customerId": "acme", "customerName": "Acme Corp"})

    assert response.status_code == 200
    acme = Customer.objects.get(customer_id="acme")
    assert (acme.name, acme.email, acme.traits) == ("Acme Corp", "", {})
    assert Customer.objects.count() == 1


def test_put_replaces_every_field(api: Client) -> None:
    send(api, "post", ACME)

    response = send(api, "put", {"customerId": "acme", "customerName": "Acme", "enabled": False})

    assert response.status_code == 200
    assert response.json()["enabled"] is False
    acme = Customer.objects.get(customer_id="acme")
    assert (acme.name, acme.email, acme.enabled, acme.traits) == ("Acme", "", False, {})


def test_put_of_an_unknown_customer_creates_it(api: Client) -> None:
    response = send(api, "put", ACME)

    assert response.status_code == 200
    assert Customer.objects.get(customer_id="acme").name == "Acme Inc."


def test_get_one_customer(api: Client) -> None:
    send(api, "post", ACME)

    response = api.get(CUSTOMERS, {"customerId": "acme"})

    assert response.status_code == 200
    assert response.json()["customerName"] == "Acme Inc."


def test_get_a_missing_customer_is_200_and_empty(api: Client) -> None:
    response = api.get(CUSTOMERS, {"customerId": "nobody"})

    assert response.status_code == 200
    assert response.json() == {}


def test_get_without_an_id_lists_everyone(client: Client) -> None:
    CustomerFactory.create(customer_id="zeta", name="Zeta")
    CustomerFactory.create(customer_id="alpha", name="Alpha")
    # Listing every customer is a read, beyond an ingest key (tests/meters/test_api_key_scopes.py).
    _, raw = api_key_create(name="reader", scope=ApiKey.Scope.READ)

    response = client.get(CUSTOMERS, headers={"X-API-KEY": raw})

    assert response.status_code == 200
    assert [c["customerId"] for c in response.json()] == ["alpha", "zeta"]


def test_path_without_trailing_slash_is_the_same_endpoint(api: Client) -> None:
    assert send(api, "post", ACME, "/amberflo/customers").status_code == 200
    assert api.get("/amberflo/customers", {"customerId": "acme"}).json()["customerId"] == "acme"


def test_customer_ids_are_trimmed_like_ingestion_trims_them(api: Client) -> None:
    send(api, "post", {**ACME, "customerId": "  acme "})

    assert api.get(CUSTOMERS, {"customerId": "acme "}).json()["customerId"] == "acme"


def test_writing_a_customer_made_by_ingestion_clears_the_mark(api: Client) -> None:
    MeterFactory.create(api_name="api-calls")
    result = events_ingest(
        records=[{"meterApiName": "api-calls", "meterValue": 1, "customerId": "walk-in"}],
        create_customers=True,
    )
    assert result.accepted == 1
    found = api.get(CUSTOMERS, {"customerId": "walk-in"}).json()
    assert (found["customerName"], found["createdByIngestion"]) == ("walk-in", True)

    updated = send(api, "put", {"customerId": "walk-in", "customerName": "Walk-in Ltd"}).json()

    assert (updated["customerName"], updated["createdByIngestion"]) == ("Walk-in Ltd", False)


# --- refusals ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"customerName": "No id"}, "customerId"),
        ({"customerId": "", "customerName": "Empty id"}, "customerId"),
        ({"customerId": "   ", "customerName": "Blank id"}, "customerId"),
        ({"customerId": 7, "customerName": "Number id"}, "customerId"),
        ({"customerId": "x"}, "customerName"),
        ({"customerId": "x", "customerName": None}, "customerName"),
        ({"customerId": "x", "customerName": "X", "customerEmail": 5}, "customerEmail"),
        (
            {"customerId": "x", "customerName": "X", "customerEmail": "not-an-email"},
            "customerEmail",
        ),
        ({"customerId": "x", "customerName": "X", "enabled": "yes"}, "enabled"),
        ({"customerId": "x", "customerName": "X", "enabled": 1}, "enabled"),
        ({"customerId": "x", "customerName": "X", "traits": ["a"]}, "traits"),
        ({"customerId": "x", "customerName": "X", "traits": {"tier": 3}}, "traits"),
        ({"customerId": "x" * 256, "customerName": "X"}, "customerId"),
        ({"customerId": "x", "customerName": "X" * 201}, "customerName"),
    ],
)
@pytest.mark.parametrize("method", ["post", "put"])
def test_bad_customer_is_400_naming_the_field(
    api: Client, method: str, body: dict[str, object], field: str
) -> None:
    response = send(api, method, body)

    assert response.status_code == 400
    assert response.json()["field"] == field, response.json()
    assert response.json()["error"]
    assert not Customer.objects.exists()


@pytest.mark.parametrize("body", ["[]", '"acme"', "{not json"])
def test_body_that_is_not_a_json_object_is_400(api: Client, body: str) -> None:
    response = api.post(CUSTOMERS, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["field"] == "body"


def test_empty_customer_id_query_is_400(api: Client) -> None:
    response = api.get(CUSTOMERS, {"customerId": " "})

    assert response.status_code == 400
    assert response.json()["field"] == "customerId"


@pytest.mark.parametrize("method", ["get", "post", "put"])
def test_without_a_key_the_answer_is_401_json(client: Client, method: str) -> None:
    response = send(client, method, ACME) if method != "get" else client.get(CUSTOMERS)

    assert response.status_code == 401
    assert response.json()["field"] == "X-API-KEY"
    assert not Customer.objects.exists()


def test_a_revoked_key_is_refused(client: Client) -> None:
    key, raw = api_key_create(name="old")
    api_key_revoke(key=key)

    response = client.get(CUSTOMERS, headers={"X-API-KEY": raw})

    assert response.status_code == 401


def test_a_logged_in_person_without_a_key_is_refused(admin_client: Client) -> None:
    assert admin_client.get(CUSTOMERS).status_code == 401


def test_delete_is_405_json(api: Client) -> None:
    response = api.delete(CUSTOMERS)

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, POST, PUT"
    assert response.json()["field"] == "method"


def test_html_customer_pages_are_untouched(client: Client) -> None:
    # The API lives under /amberflo/ so /customers/ is still the login-guarded screen.
    assert client.get("/customers/").status_code == 302


# --- the service and the parser directly ---------------------------------------


def test_replace_reports_whether_it_created() -> None:
    first, created = customer_replace(customer_id="acme", name="Acme")
    again, created_again = customer_replace(customer_id="acme", name="Acme 2", enabled=False)

    assert (created, created_again) == (True, False)
    assert first.pk == again.pk
    assert Customer.objects.get().enabled is False


def test_replace_after_losing_a_race_updates_the_winner(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another writer inserts the same customer between our look-up and our
    insert: the unique constraint refuses ours, and we replace theirs."""
    winner = CustomerFactory.create(customer_id="acme", name="From ingestion")
    real_save = Customer.save
    calls: list[int | None] = []

    def save_as_if_first(self: Customer, *args: object, **kwargs: object) -> None:
        calls.append(self.pk)
        if self.pk is None:
            raise IntegrityError("duplicate key value violates unique constraint")
        real_save(self, *args, **kwargs)

    monkeypatch.setattr(Customer, "save", save_as_if_first)
    monkeypatch.setattr(
        "customers.services.Customer.objects.select_for_update",
        lambda: Customer.objects.none() if not calls else Customer.objects.all(),
    )

    customer, created = customer_replace(customer_id="acme", name="Acme Inc.")

    assert created is False
    assert customer.pk == winner.pk
    assert Customer.objects.get().name == "Acme Inc."


def test_parser_strips_and_defaults() -> None:
    parsed = parse_customer({"customerId": " a ", "customerName": " A ", "customerEmail": None})

    assert (parsed.customer_id, parsed.name, parsed.email, parsed.enabled, parsed.traits) == (
        "a",
        "A",
        "",
        True,
        {},
    )


def test_parser_refuses_a_list() -> None:
    with pytest.raises(BadRequest) as raised:
        parse_customer([])

    assert raised.value.field == "body"
