"""Prepaid commitments on the customer page: the card (each commitment with
its invoice, what usage has paid and what is left), the form that makes
one, its errors beside the fields, and who may."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from time_machine import TimeMachineFixture

from billing_site.roles import OPERATOR, VIEWER
from invoices.closing import close_periods
from invoices.commitments import commitment_create
from invoices.models import Commitment, Invoice
from tests.factories import Guide
from tests.fixtures import HTMX, element, field_errors, login, page, table_rows, text

pytestmark = pytest.mark.django_db

MARCH = datetime(2025, 3, 1, tzinfo=UTC)
APRIL = datetime(2025, 4, 1, tzinfo=UTC)
JUNE = datetime(2025, 6, 1, tzinfo=UTC)


def card(client: Client, guide: Guide) -> str:
    url = reverse("invoices:customer_billing", args=[guide.customer.pk])
    response = client.get(url)
    assert response.status_code == 200
    return element(page(response), "commitments")


def form_data(guide: Guide, **given: str) -> dict[str, str]:
    data = {
        "assignment": str(guide.assignment.pk),
        "amount": "12000.00",
        "discount_percent": "15",
        "starts_at": "2025-03-01",
        "ends_at": "2025-06-01",
    }
    return {f"commitment-{name}": value for name, value in (data | given).items()}


def url(guide: Guide) -> str:
    return reverse("invoices:commitment_create", args=[guide.customer.pk])


def test_a_customer_without_commitments_is_told_what_one_is(client: Client, guide: Guide) -> None:
    login(client, OPERATOR)
    html = card(client, guide)
    assert "No prepaid commitments" in text(html)
    assert "New commitment" in html


def test_an_operator_makes_a_commitment_and_its_invoice_is_issued(
    client: Client, guide: Guide
) -> None:
    login(client, OPERATOR)

    response = client.post(url(guide), form_data(guide), follow=True)

    [commitment] = Commitment.objects.all()
    assert commitment.invoice.number == "TAL-2025-000001"
    assert "Commitment of $12,000.00 made; invoice TAL-2025-000001 issued." in text(page(response))
    rows = table_rows(card(client, guide))
    assert rows[1] == [
        "Chatbot Usage Plan · 1 Mar 2025 – 1 Jun 2025 · 15% off",
        "Active",
        "TAL-2025-000001 $10,200.00",
        "$12,000.00",
        "$0.00",
        "$12,000.00",
    ]


def test_by_htmx_the_card_comes_back_with_the_commitment(client: Client, guide: Guide) -> None:
    login(client, OPERATOR)
    response = client.post(url(guide), form_data(guide), headers=HTMX)
    html = page(response)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="commitments"')
    assert "invoice TAL-2025-000001 issued" in text(html)


@pytest.mark.parametrize(
    ("given", "field", "message"),
    [
        ({"amount": "0.001"}, "amount", "Use at most 2 decimal places in USD."),
        ({"amount": "0"}, "amount", "Commit to an amount greater than zero."),
        ({"discount_percent": "100"}, "discount_percent", "up to, not including, 100%"),
        ({"starts_at": "2025-02-01"}, "starts_at", "The plan assignment starts 1 Mar 2025"),
        ({"ends_at": "2025-03-01"}, "ends_at", "The term ends after it starts."),
        ({"starts_at": "not a day"}, "starts_at", "Enter a valid date."),
    ],
)
def test_a_refused_commitment_shows_why_next_to_the_field(
    client: Client, guide: Guide, given: dict[str, str], field: str, message: str
) -> None:
    login(client, OPERATOR)

    partial = client.post(url(guide), form_data(guide, **given), headers=HTMX)
    whole = client.post(url(guide), form_data(guide, **given))

    assert partial.status_code == 200 and whole.status_code == 400
    for html in (page(partial), page(whole)):
        [error] = field_errors(element(html, "commitments"), f"commitment-{field}")
        assert message in error
    assert not Invoice.objects.exists()


def test_a_viewer_sees_commitments_but_cannot_make_one(client: Client, guide: Guide) -> None:
    login(client, VIEWER)
    assert "New commitment" not in card(client, guide)
    assert client.post(url(guide), form_data(guide)).status_code == 403
    assert not Commitment.objects.exists()


def test_the_card_shows_what_usage_paid_at_a_flat_query_count(
    client: Client, guide: Guide, time_machine: TimeMachineFixture
) -> None:
    commitment_create(
        assignment=guide.assignment,
        amount="100.00",
        starts_at=MARCH,
        ends_at=JUNE,
        now=MARCH + timedelta(days=14),
        actor="ops",
    )
    time_machine.move_to(APRIL + timedelta(hours=25), tick=False)
    close_periods(now=APRIL + timedelta(hours=25))
    login(client, OPERATOR)
    rows = table_rows(card(client, guide))
    assert rows[1][-2:] == ["$0.14", "$99.86"]

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            card(client, guide)
        return len(captured)

    one = queries()
    commitment_create(
        assignment=guide.assignment,
        amount="50.00",
        starts_at=JUNE,
        ends_at=JUNE + timedelta(days=90),
        now=APRIL + timedelta(hours=25),
        actor="ops",
    )
    assert queries() == one
