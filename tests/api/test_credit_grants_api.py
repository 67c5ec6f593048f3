"""Prepaid credit over the native API: granting (refusals as 400s naming the
field), listing with balance, state and ledger, voiding, and the credit a
stored invoice drew."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from time_machine import TimeMachineFixture

from invoices.closing import close_periods
from invoices.models import CreditGrant, Invoice
from meters.api_keys import api_key_create
from meters.models import ApiKey
from tests.api.conftest import Api, errors
from tests.factories import Guide, guide_setup

pytestmark = pytest.mark.django_db

MARCH = datetime(2025, 3, 1, tzinfo=UTC)
APRIL = datetime(2025, 4, 1, tzinfo=UTC)
MID_MARCH = datetime(2025, 3, 15, 12, tzinfo=UTC)
AFTER_GRACE = APRIL + timedelta(hours=25)
WELCOME = {
    "amount": "0.10",
    "currency": "USD",
    "description": "Welcome credit",
    "effective_at": "2025-03-01T00:00:00Z",
}


@pytest.fixture
def march(db: None, time_machine: TimeMachineFixture) -> Guide:
    time_machine.move_to(MID_MARCH, tick=False)
    return guide_setup(MID_MARCH)


def grants_url(guide: Guide) -> str:
    return f"/customers/{guide.customer.pk}/credit-grants"


def test_granting_credit_answers_the_grant_with_its_ledger(api: Api, march: Guide) -> None:
    response = api.post(grants_url(march), WELCOME)

    assert response.status_code == 201
    answer = response.json()
    [grant] = CreditGrant.objects.all()
    assert answer["id"] == grant.pk
    assert answer["customer"]["customer_id"] == march.customer.customer_id
    assert (answer["kind"], answer["currency"], answer["amount"], answer["balance"]) == (
        "promotional",
        "USD",
        "0.10",
        "0.10",
    )
    assert (answer["state"], answer["priority"], answer["expires_at"]) == ("active", 50, None)
    assert answer["created_by"].startswith("key api tests")
    [entry] = answer["ledger"]
    assert (entry["kind"], entry["amount"], entry["invoice"]) == ("granted", "0.10", None)


def test_effective_at_defaults_to_now(api: Api, march: Guide) -> None:
    body = {key: value for key, value in WELCOME.items() if key != "effective_at"}

    answer = api.post(grants_url(march), body).json()

    assert answer["effective_at"] == "2025-03-15T12:00:00Z"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": "0.001"}, "amount"),
        ({"amount": "-1"}, "amount"),
        ({"currency": "EUR"}, "currency"),
        ({"description": " "}, "description"),
        ({"expires_at": "2025-02-01T00:00:00Z"}, "expires_at"),
        ({"priority": 101}, "priority"),
        ({"kind": "gift"}, "kind"),
        ({"purchase_reference": "PO-1"}, "purchase_reference"),
    ],
)
def test_a_refused_grant_is_a_400_naming_the_field(
    api: Api, march: Guide, change: dict[str, object], field: str
) -> None:
    response = api.post(grants_url(march), WELCOME | change)

    assert response.status_code == 400
    assert [f for f, _ in errors(response)] == [field]
    assert not CreditGrant.objects.exists()


def test_the_list_has_what_is_available_and_each_grant(api: Api, march: Guide) -> None:
    api.post(grants_url(march), WELCOME)
    later = WELCOME | {"description": "Next year", "effective_at": "2026-01-01T00:00:00Z"}
    api.post(grants_url(march), later)

    answer = api.get(grants_url(march)).json()

    assert answer["available"] == {"USD": "0.10"}
    assert [(g["description"], g["state"]) for g in answer["items"]] == [
        ("Next year", "scheduled"),
        ("Welcome credit", "active"),
    ]


def test_finalization_draws_and_the_stored_invoice_lists_the_credit(
    api: Api, march: Guide, time_machine: TimeMachineFixture
) -> None:
    grant = api.post(grants_url(march), WELCOME).json()
    time_machine.move_to(AFTER_GRACE, tick=False)
    close_periods(now=AFTER_GRACE)
    invoice = Invoice.objects.get(assignment=march.assignment, period_start=MARCH)

    stored = api.get(f"/invoices/{invoice.pk}").json()
    listed = api.get("/invoices", status="open").json()["items"]
    again = api.get(f"/credit-grants/{grant['id']}").json()

    assert (stored["total"], stored["credits_applied"], stored["amount_due"]) == (
        "0.14",
        "0.10",
        "0.04",
    )
    assert stored["credits"] == [
        {"grant_id": grant["id"], "description": "Welcome credit", "amount": "0.10"}
    ]
    assert [i["amount_due"] for i in listed] == ["0.04"]
    assert (again["balance"], again["state"]) == ("0.00", "used up")
    assert again["ledger"][-1]["kind"] == "drawn"
    assert again["ledger"][-1]["invoice"] == {"id": invoice.pk, "number": invoice.number}


def test_a_draft_has_no_credit_yet(api: Api, march: Guide) -> None:
    api.post(grants_url(march), WELCOME)
    close_periods(now=MID_MARCH)
    draft = Invoice.objects.get(assignment=march.assignment, period_start=MARCH)

    stored = api.get(f"/invoices/{draft.pk}").json()

    assert (stored["credits_applied"], stored["amount_due"], stored["credits"]) == (None, None, [])


def test_voiding_a_grant_writes_off_its_balance(api: Api, march: Guide) -> None:
    grant = api.post(grants_url(march), WELCOME).json()

    response = api.post(f"/credit-grants/{grant['id']}/void", {"reason": "Granted twice"})

    assert response.status_code == 200
    answer = response.json()
    assert (answer["balance"], answer["state"]) == ("0.00", "voided")
    assert answer["ledger"][-1] | {"at": None} == {
        "kind": "voided",
        "amount": "0.10",
        "at": None,
        "invoice": None,
        "actor": answer["ledger"][-1]["actor"],
        "note": "Granted twice",
    }
    again = api.post(f"/credit-grants/{grant['id']}/void", {"reason": "again"})
    assert again.status_code == 400
    assert errors(again) == [("", "This credit is already voided.")]
    blank = api.post(grants_url(march), WELCOME).json()
    assert errors(api.post(f"/credit-grants/{blank['id']}/void", {"reason": " "})) == [
        ("reason", "Say why the credit is voided.")
    ]


def test_unknown_grants_and_customers_are_404(api: Api, march: Guide) -> None:
    assert api.get("/credit-grants/999999").status_code == 404
    assert api.post("/credit-grants/999999/void", {"reason": "x"}).status_code == 404
    assert api.get("/customers/999999/credit-grants").status_code == 404
    assert api.post("/customers/999999/credit-grants", WELCOME).status_code == 404


def test_a_read_key_lists_credit_but_cannot_grant(march: Guide) -> None:
    _, raw = api_key_create(name="reader", scope=ApiKey.Scope.READ)
    reader = Api(raw)

    assert reader.get(grants_url(march)).status_code == 200
    assert reader.post(grants_url(march), WELCOME).status_code == 403
    assert not CreditGrant.objects.exists()


@pytest.mark.parametrize("amount", ["1e100", "1000000000000000", "-1e-100"])
def test_an_amount_no_column_could_hold_is_a_400_naming_it(
    api: Api, march: Guide, amount: str
) -> None:
    response = api.post(grants_url(march), {**WELCOME, "amount": amount})

    assert response.status_code == 400
    assert [field for field, _ in errors(response)] == ["amount"]
    assert not CreditGrant.objects.exists()
