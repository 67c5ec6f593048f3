"""Cost and margin on the invoice page and the customer billing region: the
Cost, Margin and Margin % columns for those who may see costs (Admin), none
for anyone else; "no cost known" says so, never $0.00; a negative margin is
flagged; the pages' queries stay flat."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from time_machine import TimeMachineFixture

from billing_site.roles import ADMIN, OPERATOR, VIEWER
from invoices.closing import close_periods
from invoices.models import Invoice
from pricing.models import Plan
from pricing.services import cost_plan_make_default, plan_create, rate_create
from tests.factories import Guide
from tests.fixtures import element, login, page, table_rows

MARCH = datetime(2025, 3, 1, tzinfo=UTC)
APRIL = datetime(2025, 4, 1, tzinfo=UTC)
TOKEN_COSTS = [
    (["model a", "input"], Decimal("0.000003")),
    (["model a", "output"], Decimal("0.000015")),
    (["model b", "input"], Decimal("0.000001")),
    (["model b", "output"], Decimal("0.000004")),
]


def cost_plan(guide: Guide, calls: str = "0.0005", tokens: bool = True) -> Plan:
    plan = plan_create(name="Provider costs", billing_period="monthly", currency="USD", kind="cost")
    rate_create(plan=plan, meter=guide.api_calls, unit_price=Decimal(calls))
    if tokens:
        rate_create(
            plan=plan, meter=guide.llm_tokens, dimensions=["model", "type"], matrix=TOKEN_COSTS
        )
    cost_plan_make_default(plan=plan)
    return plan


def issue(guide: Guide, time_machine: TimeMachineFixture) -> Invoice:
    later = APRIL + timedelta(hours=25)
    close_periods(now=later)
    time_machine.move_to(later, tick=False)
    return Invoice.objects.get(assignment=guide.assignment, period_start=MARCH)


def lines_table(html: str) -> str:
    found = re.search(r'<table class="table invoice-lines">.*?</table>', html, re.S)
    return found.group(0) if found else ""


def row_of(html: str, first_cell: str) -> list[str]:
    [row] = [row for row in table_rows(html) if row and row[0] == first_cell]
    return row


@pytest.mark.parametrize("role", [ADMIN])
def test_an_admin_sees_each_issued_lines_cost_and_margin(
    client: Client, guide: Guide, time_machine: TimeMachineFixture, role: str
) -> None:
    cost_plan(guide)
    invoice = issue(guide, time_machine)
    login(client, role=role)

    html = lines_table(page(client.get(invoice.get_absolute_url())))

    assert '<th class="num">Cost</th>' in html and "Margin %" in html
    # API calls: $0.10 billed, 10 × $0.0005 = $0.005 → $0.01 cost, $0.09 margin, 90%.
    assert row_of(html, "API calls")[3:] == ["$0.10", "$0.01", "$0.09", "90.0%"]
    assert "No cost known" not in html
    assert "negative-margin" not in html


@pytest.mark.parametrize("role", [VIEWER, OPERATOR])
def test_viewers_and_operators_see_no_cost_on_the_invoice_page(
    client: Client, guide: Guide, time_machine: TimeMachineFixture, role: str
) -> None:
    cost_plan(guide)
    invoice = issue(guide, time_machine)
    login(client, role=role)

    html = page(client.get(invoice.get_absolute_url()))

    assert ">Cost<" not in html and "Margin" not in html
    assert "negative-margin" not in html and "No cost known" not in html


def test_a_line_costing_more_than_it_earns_is_flagged(
    client: Client, guide: Guide, time_machine: TimeMachineFixture
) -> None:
    cost_plan(guide, calls="0.02")  # 10 calls × $0.02 = $0.20 against $0.10 billed
    invoice = issue(guide, time_machine)
    login(client, role=ADMIN)

    html = lines_table(page(client.get(invoice.get_absolute_url())))

    assert row_of(html, "API calls")[4:] == ["$0.20", "-$0.10", "-100.0%"]
    assert 'class="pill bad negative-margin">-$0.10' in html


def test_without_a_cost_plan_the_lines_say_no_cost_known_never_zero(
    client: Client, guide: Guide, time_machine: TimeMachineFixture
) -> None:
    invoice = issue(guide, time_machine)
    login(client, role=ADMIN)

    html = lines_table(page(client.get(invoice.get_absolute_url())))

    assert html.count("No cost known") >= 4
    assert "10 without a cost" in html
    [totals] = [r for r in table_rows(html) if r and r[0].startswith("Lines · revenue")]
    assert "4 lines with no cost known" in totals[0]
    assert totals[1:] == ["$0.14", "unknown", "unknown", "—"]


def test_a_draft_is_costed_as_its_usage_arrives(client: Client, guide: Guide) -> None:
    cost_plan(guide)
    draft = Invoice.objects.filter(assignment=guide.assignment, status="draft").first()
    if draft is None:
        close_periods(now=guide_now())
        draft = Invoice.objects.get(assignment=guide.assignment, status="draft")
    login(client, role=ADMIN)

    html = lines_table(page(client.get(draft.get_absolute_url())))

    assert "Margin %" in html and "90.0%" in html


def guide_now() -> datetime:
    return datetime(2025, 3, 15, 12, tzinfo=UTC)


def test_the_billing_region_shows_costs_to_an_admin_only(client: Client, guide: Guide) -> None:
    cost_plan(guide)
    url = reverse("invoices:customer_billing", args=[guide.customer.pk])

    login(client, role=ADMIN)
    admin = element(page(client.get(url)), "invoice")
    login(client, role=VIEWER)
    viewer = element(page(client.get(url)), "invoice")

    assert "Margin %" in admin and "90.0%" in admin
    assert "Margin" not in viewer and ">Cost<" not in viewer


def test_the_customer_page_flags_a_negative_margin_for_an_admin_only(
    client: Client, guide: Guide, time_machine: TimeMachineFixture
) -> None:
    cost_plan(guide, calls="0.02")
    issue(guide, time_machine)
    url = reverse("invoices:customer_billing", args=[guide.customer.pk])

    login(client, role=ADMIN)
    admin = page(client.get(url))
    login(client, role=OPERATOR)
    operator = page(client.get(url))

    assert "Margin" in element(admin, "margin-flag")
    assert "margin-flag" not in operator
