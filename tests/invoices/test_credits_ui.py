"""Prepaid credit on the pages: the customer page's Credit card (balance,
grants, ledger, the grant form and Void), and the credit an invoice drew on
its page, its PDF, the invoice list and its CSV."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from time_machine import TimeMachineFixture

from billing_site.roles import ADMIN, OPERATOR, VIEWER
from invoices.closing import close_periods
from invoices.credits import credit_grant_create
from invoices.models import CreditGrant, Invoice
from invoices.pdf import render_invoice_html
from invoices.selectors import stored_content
from invoices.services import invoice_void
from tests.factories import Guide
from tests.fixtures import (
    HTMX,
    element,
    field_errors,
    login,
    page,
    table_rows,
    text,
    user_with_role,
)

pytestmark = pytest.mark.django_db

MARCH = datetime(2025, 3, 1, tzinfo=UTC)
APRIL = datetime(2025, 4, 1, tzinfo=UTC)
AFTER_GRACE = APRIL + timedelta(hours=25)


def billing(client: Client, guide: Guide, **headers: str) -> str:
    url = reverse("invoices:customer_billing", args=[guide.customer.pk])
    response = client.get(url, headers=headers)
    assert response.status_code == 200
    return page(response)


def card(client: Client, guide: Guide) -> str:
    return element(billing(client, guide), "credit")


def grant(guide: Guide, amount: str = "0.10", **given: object) -> CreditGrant:
    fields: dict[str, object] = {
        "customer": guide.customer,
        "amount": Decimal(amount),
        "currency": "USD",
        "description": "Welcome credit",
        "effective_at": MARCH,
        "now": MARCH + timedelta(days=14),
        "actor": "ops",
    }
    return credit_grant_create(**(fields | given))  # type: ignore[arg-type]


def form_data(**given: str) -> dict[str, str]:
    data = {
        "amount": "0.10",
        "currency": "USD",
        "kind": "promotional",
        "description": "Welcome credit",
        "purchase_reference": "",
        "effective_at": "2025-03-01T00:00",
        "expires_at": "",
        "priority": "50",
    }
    return data | given


def grant_url(guide: Guide) -> str:
    return reverse("invoices:credit_grant_create", args=[guide.customer.pk])


def issued(guide: Guide, time_machine: TimeMachineFixture) -> Invoice:
    """March's invoice, finalized by period close after its grace period;
    the clock stays there."""
    time_machine.move_to(AFTER_GRACE, tick=False)
    close_periods(now=AFTER_GRACE)
    return Invoice.objects.get(assignment=guide.assignment, period_start=MARCH)


# The Credit card on the customer page


def test_a_customer_without_credit_is_told_what_credit_is(client: Client, guide: Guide) -> None:
    login(client, OPERATOR)

    html = card(client, guide)

    assert "No credit yet" in text(html)
    assert "bought (paid) or given (promotional)" in text(html)
    assert "Grant credit" in html
    # The plan's currency is chosen, the priority is the default, now is the start.
    assert re.search(r'<option value="USD" selected>', html)
    assert 'name="priority" value="50"' in html
    assert 'name="effective_at" value="2025-03-15T' in html
    assert "soonest expiry first, then lower priority first" in html


def test_an_operator_grants_credit_and_sees_its_balance_and_ledger(
    client: Client, guide: Guide
) -> None:
    login(client, OPERATOR)

    response = client.post(grant_url(guide), form_data())

    assert response.status_code == 302
    assert response["Location"] == f"{guide.customer.get_absolute_url()}#credit"
    html = card(client, guide)
    assert text(element(html, "credit-available")) == "Available (USD) $0.10"
    [credit] = CreditGrant.objects.all()
    block = text(element(html, f"grant-{credit.pk}"))
    assert block.startswith("Welcome credit Active Promotional · from 1 Mar 2025, 00:00 UTC")
    assert "no expiry · priority 50" in block
    assert "Granted $0.10 Balance $0.10" in block
    rows = table_rows(element(html, f"grant-{credit.pk}"))
    assert rows[1][1:] == ["Granted", credit.created_by, "+$0.10"]


def test_granting_by_htmx_answers_the_card_with_the_new_grant(client: Client, guide: Guide) -> None:
    login(client, OPERATOR)

    response = client.post(grant_url(guide), form_data(), headers=HTMX)

    html = page(response)
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<section id="credit"')
    assert "$0.10 of promotional credit granted." in text(html)
    assert "Welcome credit" in html


@pytest.mark.parametrize(
    ("given", "field", "message"),
    [
        ({"amount": "0.001"}, "amount", "Use at most 2 decimal places in USD."),
        ({"amount": "0"}, "amount", "Grant an amount greater than zero."),
        ({"expires_at": "2025-02-01T00:00"}, "expires_at", "The credit must expire after"),
        ({"purchase_reference": "PO-1"}, "purchase_reference", "Only paid credit has a purchase."),
        ({"description": ""}, "description", "This field is required."),
        ({"priority": "101"}, "priority", "less than or equal to 100"),
    ],
)
def test_a_refused_grant_shows_why_next_to_the_field(
    client: Client, guide: Guide, given: dict[str, str], field: str, message: str
) -> None:
    login(client, OPERATOR)

    partial = client.post(grant_url(guide), form_data(**given), headers=HTMX)
    whole = client.post(grant_url(guide), form_data(**given))

    assert partial.status_code == 200 and whole.status_code == 400
    for html in (page(partial), page(whole)):
        [error] = field_errors(html, field)
        assert message in error
        assert '<details class="grant-form" open>' in html
    assert not CreditGrant.objects.exists()


def test_a_paid_grant_keeps_its_purchase(client: Client, guide: Guide) -> None:
    login(client, OPERATOR)
    data = form_data(kind="paid", purchase_reference="PO-1234", expires_at="2026-03-01T00:00")

    client.post(grant_url(guide), data)

    block = text(card(client, guide))
    assert "Paid · purchase PO-1234" in block
    assert "expires 1 Mar 2026, 00:00 UTC" in block


def test_voiding_a_grant_writes_off_its_balance(client: Client, guide: Guide) -> None:
    credit = grant(guide)
    login(client, OPERATOR)
    url = reverse("invoices:credit_grant_void", args=[credit.pk])

    response = client.post(url, {"reason": "Granted twice"}, follow=True)

    assert "Welcome credit: the $0.10 left is voided." in text(page(response))
    html = card(client, guide)
    block = element(html, f"grant-{credit.pk}")
    assert "Voided" in text(block)
    actor = credit.entries.get(kind="voided").actor
    assert actor.startswith("billing-user")  # who voided it: the user's name
    assert table_rows(block)[-1][1:] == ["Voided · Granted twice", actor, "−$0.10"]
    assert url not in html  # nothing left to void
    assert "None available now" in text(element(html, "credit-available"))


def test_voiding_without_a_reason_is_refused_with_a_message(client: Client, guide: Guide) -> None:
    credit = grant(guide)
    login(client, OPERATOR)

    response = client.post(
        reverse("invoices:credit_grant_void", args=[credit.pk]), {"reason": " "}, follow=True
    )

    assert "Welcome credit: Say why the credit is voided." in text(page(response))
    assert credit.entries.count() == 1


def test_a_viewer_sees_the_credit_but_cannot_grant_or_void(client: Client, guide: Guide) -> None:
    credit = grant(guide)
    login(client, VIEWER)

    html = card(client, guide)

    assert "Welcome credit" in html
    assert "Grant credit" not in html
    assert reverse("invoices:credit_grant_void", args=[credit.pk]) not in html


def test_the_ledger_links_the_invoice_that_drew_and_gave_back(
    client: Client, guide: Guide, time_machine: TimeMachineFixture
) -> None:
    credit = grant(guide)
    invoice = issued(guide, time_machine)
    invoice_void(invoice=invoice, reason="wrong plan", now=AFTER_GRACE, actor="ops")
    login(client, OPERATOR)

    block = element(card(client, guide), f"grant-{credit.pk}")

    assert [row[1:] for row in table_rows(block)[1:]] == [
        ["Granted", "ops", "+$0.10"],
        [f"Drawn by invoice {invoice.number}", "system (period close)", "−$0.10"],
        [f"Returned: invoice {invoice.number} voided", "ops", "+$0.10"],
    ]
    assert f'href="{invoice.get_absolute_url()}"' in block


def test_the_credit_card_costs_the_same_queries_for_one_grant_or_many(
    client: Client, guide: Guide, time_machine: TimeMachineFixture
) -> None:
    grant(guide, "0.01")
    issued(guide, time_machine)
    login(client, VIEWER)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            billing(client, guide, **HTMX)
        return len(queries)

    few = count()
    for n in range(6):
        grant(guide, "0.05", description=f"Credit {n}", now=AFTER_GRACE, expires_at=None)
    many = count()

    assert few == many


# The invoice: page, PDF, list, CSV


def test_an_issued_invoice_shows_the_credit_applied_and_the_amount_due(
    client: Client, guide: Guide, time_machine: TimeMachineFixture
) -> None:
    grant(guide)
    invoice = issued(guide, time_machine)
    login(client, VIEWER)

    html = page(client.get(invoice.get_absolute_url()))

    assert text(element(html, "credit-applied")) == "−$0.10"
    assert text(element(html, "amount-due")) == "$0.04"
    lines = re.search(r'<table class="table invoice-lines">.*?</table>', html, re.S)
    assert lines is not None
    assert table_rows(lines.group(0))[-3:] == [
        ["Total", "$0.14"],
        ["Credit applied · Welcome credit", "−$0.10"],
        ["Amount due", "$0.04"],
    ]


def test_the_pdf_shows_the_credit_applied_and_the_amount_due(
    guide: Guide, time_machine: TimeMachineFixture
) -> None:
    grant(guide)
    invoice = issued(guide, time_machine)

    html = render_invoice_html(stored_content(invoice))

    rows = table_rows(html)
    assert rows[-3:] == [
        ["Total", "$0.14"],
        ["Credit applied · Welcome credit", "−$0.10"],
        ["Amount due", "$0.04"],
    ]
    assert "credit it drew was given back" not in html


def test_a_voided_invoice_says_its_credit_was_given_back(
    client: Client, guide: Guide, time_machine: TimeMachineFixture
) -> None:
    grant(guide)
    invoice = issued(guide, time_machine)
    invoice_void(invoice=invoice, reason="wrong plan", now=AFTER_GRACE, actor="ops")
    login(client, VIEWER)

    html = page(client.get(invoice.get_absolute_url()))
    pdf = render_invoice_html(stored_content(invoice))

    assert "Voiding gave the $0.10 of credit it drew back to" in text(html)
    assert "the credit it drew was given back to the customer's balance" in pdf


def test_an_invoice_without_credit_asks_its_total(
    client: Client, guide: Guide, time_machine: TimeMachineFixture
) -> None:
    invoice = issued(guide, time_machine)
    login(client, VIEWER)

    html = page(client.get(invoice.get_absolute_url()))

    assert element(html, "credit-applied") == ""
    assert text(element(html, "amount-due")) == "$0.14"
    assert "Credit applied" not in html


def test_a_draft_says_credit_is_applied_at_finalization(client: Client, guide: Guide) -> None:
    grant(guide)
    close_periods(now=MARCH + timedelta(days=14))
    draft = Invoice.objects.get(assignment=guide.assignment, period_start=MARCH)
    login(client, VIEWER)

    html = page(client.get(draft.get_absolute_url()))

    assert "has $0.10 of credit usable now. Finalization draws the credit usable then" in text(
        element(html, "draft-credit")
    )
    assert element(html, "amount-due") == ""


def test_the_invoice_list_and_its_csv_have_the_amount_due(
    client: Client, guide: Guide, time_machine: TimeMachineFixture
) -> None:
    grant(guide)
    invoice = issued(guide, time_machine)
    login(client, VIEWER)

    html = page(client.get(reverse("invoices:list")))
    csv = page(client.get(reverse("invoices:list"), {"_export": "csv"}))

    rows = table_rows(element(html, "invoice-table"))
    assert rows[0][-2:] == ["Total", "Amount due"]
    mine = next(row for row in rows if row[0] == invoice.number)
    assert mine[-2:] == ["$0.14", "$0.04"]
    draft = next(row for row in rows if row[0] == "Draft")
    assert draft[-1] == "at finalization"
    header, *lines = csv.splitlines()
    assert header.endswith("Total,Amount due")
    assert any(
        line.startswith(invoice.number or "") and line.endswith("0.14,0.04") for line in lines
    )


# The audit trail


def test_a_grant_made_on_the_page_is_in_the_activity_linked_to_the_customer(
    client: Client, guide: Guide
) -> None:
    user = user_with_role(ADMIN)
    client.force_login(user)

    client.post(grant_url(guide), form_data())

    [credit] = CreditGrant.objects.all()
    [entry] = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(CreditGrant), object_pk=str(credit.pk)
    )
    assert (entry.action, entry.actor) == (LogEntry.Action.CREATE, user)
    assert entry.changes_dict["amount"] == ["None", "0.10"]
    # The ledger is its own immutable record, not tracked.
    assert not LogEntry.objects.filter(content_type__model="creditledgerentry").exists()
    activity = page(client.get(reverse("activity"), {"type": "invoices.creditgrant"}))
    assert f'href="{guide.customer.get_absolute_url()}#credit"' in activity


# The Django admin: read-only


def test_a_grant_and_its_ledger_show_in_the_admin_but_cannot_be_changed(
    admin_client: Client, guide: Guide, time_machine: TimeMachineFixture
) -> None:
    credit = grant(guide)
    invoice = issued(guide, time_machine)
    url = reverse("admin:invoices_creditgrant_change", args=[credit.pk])

    html = page(admin_client.get(url))
    posted = admin_client.post(url, {"description": "More", "amount": "9.00"})
    added = admin_client.get(reverse("admin:invoices_creditgrant_add"))
    entries = page(admin_client.get(reverse("admin:invoices_creditledgerentry_changelist")))
    deleted = admin_client.post(
        reverse("admin:invoices_creditgrant_delete", args=[credit.pk]), {"post": "yes"}
    )

    assert "Welcome credit" in html and str(invoice.number) in html  # the ledger inline
    assert 'name="_save"' not in html
    assert (posted.status_code, added.status_code, deleted.status_code) == (403, 403, 403)
    assert "Drawn by an invoice" in entries
    credit.refresh_from_db()
    assert (credit.description, credit.amount) == ("Welcome credit", Decimal("0.10"))
