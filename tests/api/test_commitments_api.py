"""Prepaid commitments over the native API: making one (its invoice issued
at once; refusals as 400s naming the field), listing what usage paid."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from time_machine import TimeMachineFixture

from invoices.closing import close_periods
from invoices.models import Commitment, Invoice
from tests.api.conftest import Api, fields
from tests.factories import Guide, guide_setup

pytestmark = pytest.mark.django_db

MID_MARCH = datetime(2025, 3, 15, 12, tzinfo=UTC)
AFTER_GRACE = datetime(2025, 4, 2, 1, tzinfo=UTC)


@pytest.fixture
def march(db: None, time_machine: TimeMachineFixture) -> Guide:
    time_machine.move_to(MID_MARCH, tick=False)
    return guide_setup(MID_MARCH)


def body(guide: Guide, **given: object) -> dict[str, object]:
    return {
        "assignment": guide.assignment.pk,
        "amount": "12000.00",
        "discount_percent": "15",
        "starts_at": "2025-03-01T00:00:00Z",
        "ends_at": "2025-06-01T00:00:00Z",
    } | given


def url(guide: Guide) -> str:
    return f"/customers/{guide.customer.pk}/commitments"


def test_making_a_commitment_issues_its_invoice(api: Api, march: Guide) -> None:
    response = api.post(url(march), body(march))

    assert response.status_code == 201
    answer = response.json()
    [commitment] = Commitment.objects.all()
    assert answer["id"] == commitment.pk
    assert answer["invoice"] == {"id": commitment.invoice_id, "number": "TAL-2025-000001"}
    assert (answer["amount"], answer["discount_percent"], answer["price"]) == (
        "12000.00",
        "15",
        "10200.00",
    )
    assert (answer["drawn"], answer["balance"], answer["state"]) == ("0.00", "12000.00", "active")
    stored = api.get(f"/invoices/{commitment.invoice_id}").json()
    assert stored["total"] == "10200.00"


def test_usage_invoices_draw_it_down(
    api: Api, march: Guide, time_machine: TimeMachineFixture
) -> None:
    api.post(url(march), body(march))
    time_machine.move_to(AFTER_GRACE, tick=False)
    close_periods(now=AFTER_GRACE)

    [answer] = api.get(url(march)).json()

    assert (answer["drawn"], answer["balance"]) == ("0.14", "11999.86")
    usage = Invoice.objects.get(kind="usage", period_start=datetime(2025, 3, 1, tzinfo=UTC))
    assert usage.total == 0


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "0.001"}, "amount"),
        ({"discount_percent": "100"}, "discount_percent"),
        ({"ends_at": "2025-03-01T00:00:00Z"}, "ends_at"),
        ({"assignment": 999_999}, "assignment"),
    ],
)
def test_a_refused_commitment_names_its_field(
    api: Api, march: Guide, given: dict[str, object], field: str
) -> None:
    response = api.post(url(march), body(march, **given))
    assert response.status_code == 400
    assert field in fields(response)
    assert not Commitment.objects.exists()


def test_an_unknown_commitment_is_a_404(api: Api, march: Guide) -> None:
    assert api.get("/commitments/999999").status_code == 404
