"""Invoices in the Django admin are read-only: issued bills change only
through the invoice pages' services, never by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from time_machine import TimeMachineFixture

from invoices.closing import close_periods
from invoices.models import Invoice
from tests.factories import guide_setup

NOW = datetime(2025, 3, 15, 12, tzinfo=UTC)


@pytest.fixture
def issued(db: None, time_machine: TimeMachineFixture) -> Invoice:
    time_machine.move_to(NOW, tick=False)
    guide_setup(NOW)
    close_periods(now=datetime(2025, 4, 2, 1, tzinfo=UTC))
    return Invoice.objects.exclude(status="draft").get()


def test_an_issued_invoice_shows_in_the_admin_but_cannot_be_changed(
    admin_client: Client, issued: Invoice
) -> None:
    url = reverse("admin:invoices_invoice_change", args=[issued.pk])

    page = admin_client.get(url).content.decode()
    posted = admin_client.post(url, {"customer_name": "Someone else", "total": "9.00"})
    deleted = admin_client.post(
        reverse("admin:invoices_invoice_delete", args=[issued.pk]), {"post": "yes"}
    )

    assert issued.number in page
    assert 'name="_save"' not in page
    assert posted.status_code == 403
    assert deleted.status_code == 403
    issued.refresh_from_db()
    assert issued.customer_name == "Test Customer" and issued.status == "open"
    assert issued.total == Decimal("0.14")


def test_the_admin_offers_no_way_to_add_an_invoice(admin_client: Client, issued: Invoice) -> None:
    response = admin_client.get(reverse("admin:invoices_invoice_add"))

    assert response.status_code == 403
    assert Invoice.objects.count() == 2  # March issued, April's draft
