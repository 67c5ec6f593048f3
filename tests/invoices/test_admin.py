"""Invoices in the Django admin are read-only: issued bills change only
through the invoice pages' services, never by hand. So are the steps stored
with them (InvoiceAdjustment) and who holds which coupon (given and removed on
the customer page or through the API)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from time_machine import TimeMachineFixture

from invoices.closing import close_periods
from invoices.commitments import commitment_create
from invoices.models import CouponRedemption, Invoice
from tests.factories import guide_setup
from tests.fixtures import text
from tests.invoices.test_invoice_steps_wired import MARCH_STEPS, MID_MARCH, every_step, issue

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


@pytest.fixture
def stepped(db: None, time_machine: TimeMachineFixture) -> Invoice:
    """The guide's March invoice with every step: a setup fee, a minimum, VAT
    and the WELCOME10 coupon, issued."""
    time_machine.move_to(MID_MARCH, tick=False)
    guide = guide_setup(MID_MARCH)
    every_step(guide)
    return issue(guide)


def test_an_invoices_adjustments_show_on_its_admin_page_and_cannot_be_changed(
    admin_client: Client, stepped: Invoice
) -> None:
    adjustment = stepped.adjustments.get(kind="minimum_true_up")
    url = reverse("admin:invoices_invoiceadjustment_change", args=[adjustment.pk])

    invoice_page = text(
        admin_client.get(
            reverse("admin:invoices_invoice_change", args=[stepped.pk])
        ).content.decode()
    )
    page = admin_client.get(url).content.decode()
    posted = admin_client.post(url, {"amount": "0.00", "description": "nothing"})
    deleted = admin_client.post(
        reverse("admin:invoices_invoiceadjustment_delete", args=[adjustment.pk]), {"post": "yes"}
    )
    added = admin_client.get(reverse("admin:invoices_invoiceadjustment_add"))

    assert "Invoice minimum true-up" in invoice_page and "49.87" in invoice_page
    assert "Welcome offer (WELCOME10)" in invoice_page
    assert 'name="amount"' not in page and 'name="_save"' not in page
    assert (posted.status_code, deleted.status_code, added.status_code) == (403, 403, 403)
    adjustment.refresh_from_db()
    assert adjustment.amount == Decimal("49.87")
    assert stepped.adjustments.count() == len(MARCH_STEPS)


def test_the_adjustments_list_names_each_step(admin_client: Client, stepped: Invoice) -> None:
    listing = text(
        admin_client.get(reverse("admin:invoices_invoiceadjustment_changelist")).content.decode()
    )

    assert "One-time fee fee:1 Setup fee 500.00" in listing
    assert "10 invoice adjustments" in listing


def test_who_holds_a_coupon_shows_in_the_admin_but_is_changed_only_in_the_app(
    admin_client: Client, stepped: Invoice
) -> None:
    redemption = CouponRedemption.objects.get()
    url = reverse("admin:invoices_couponredemption_change", args=[redemption.pk])

    listing = text(
        admin_client.get(reverse("admin:invoices_couponredemption_changelist")).content.decode()
    )
    posted = admin_client.post(url, {"removed_at_0": "2025-03-16", "removed_at_1": "00:00:00"})
    deleted = admin_client.post(
        reverse("admin:invoices_couponredemption_delete", args=[redemption.pk]), {"post": "yes"}
    )
    added = admin_client.get(reverse("admin:invoices_couponredemption_add"))

    assert "WELCOME10: Welcome offer Test Customer (test-customer)" in listing
    assert (posted.status_code, deleted.status_code, added.status_code) == (403, 403, 403)
    redemption.refresh_from_db()
    assert redemption.removed_at is None


def test_a_prepaid_commitment_shows_in_the_admin_but_cannot_be_changed(
    admin_client: Client, db: None, time_machine: TimeMachineFixture
) -> None:
    time_machine.move_to(MID_MARCH, tick=False)
    guide = guide_setup(MID_MARCH)
    commitment = commitment_create(
        assignment=guide.assignment,
        amount="1200.00",
        discount_percent="15",
        starts_at=datetime(2025, 3, 1, tzinfo=UTC),
        ends_at=datetime(2025, 6, 1, tzinfo=UTC),
        now=MID_MARCH,
        actor="operator",
    )
    url = reverse("admin:invoices_commitment_change", args=[commitment.pk])

    listing = text(
        admin_client.get(reverse("admin:invoices_commitment_changelist")).content.decode()
    )
    posted = admin_client.post(url, {"amount": "1.00", "discount_percent": "99"})
    deleted = admin_client.post(
        reverse("admin:invoices_commitment_delete", args=[commitment.pk]), {"post": "yes"}
    )
    added = admin_client.get(reverse("admin:invoices_commitment_add"))

    assert "Prepaid commitment: $1,200.00 for 1 Mar 2025 – 1 Jun 2025" in listing
    assert "15% TAL-2025-000001" in listing
    assert (posted.status_code, deleted.status_code, added.status_code) == (403, 403, 403)
    commitment.refresh_from_db()
    assert (commitment.amount, commitment.discount_percent) == (Decimal("1200.00"), Decimal(15))
