"""The invoice in a customer's billing region (the guide's step 7), which the
customer page loads from invoices:customer_billing: every line, subtotal and
total a billing user reads, and the usage that is deliberately not billed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django import Settings
from time_machine import TimeMachineFixture

from customers.models import Customer, PlanAssignment
from customers.services import assignment_end
from invoices.builder import current_period
from meters.services import events_ingest
from tests.factories import CustomerFactory, Guide, MeterFactory, guide_records, guide_setup, millis
from tests.fixtures import HTMX, element, page, table_rows, text

pytestmark = pytest.mark.django_db

JAN = datetime(2025, 1, 1, tzinfo=UTC)
FEB = datetime(2025, 2, 1, tzinfo=UTC)
MAR = datetime(2025, 3, 1, tzinfo=UTC)
APR = datetime(2025, 4, 1, tzinfo=UTC)

GUIDE_LINES = [
    ["Description", "Quantity", "Unit price", "Amount"],
    ["API calls · Per unit"],
    ["API calls", "10", "$0.01", "$0.10"],
    ["Subtotal · API calls", "$0.10"],
    ["LLM tokens · Dimensions (pricing matrix)"],
    ["LLM tokens · model a · input", "1,000", "$0.00001", "$0.01"],
    ["LLM tokens · model a · output", "1,000", "$0.00002", "$0.02"],
    # 1000 x $0.000005 = $0.005 exactly, rounded half up once, on its line.
    ["LLM tokens · model b · input", "1,000", "$0.000005", "$0.01"],
    ["Subtotal · LLM tokens", "$0.04"],
    ["Total", "$0.14"],
]


def billing_url(customer: Customer) -> str:
    return reverse("invoices:customer_billing", args=[customer.pk])


def invoice_page(client: Client, customer: Customer, **params: str) -> str:
    return page(client.get(billing_url(customer), params))


def token(assignment: PlanAssignment, start: datetime) -> str:
    """How `?period=` names the assignment's period starting at `start`."""
    return f"{assignment.pk}@{start.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def lines(html: str) -> list[list[str]]:
    found = re.search(r'<table class="table invoice-lines">.*?</table>', html, re.S)
    assert found, "no invoice lines on the page"
    # Admins also see each line's cost (tests/invoices/test_margin_ui.py): not here.
    rows = table_rows(found.group(0))
    return [row[:4] for row in rows if not row[0].startswith("Lines · revenue")]


def total(html: str) -> str:
    return lines(html)[-1][-1]


def unpriced(html: str) -> list[list[str]]:
    """Rows of the "Unpriced usage — not billed" box: meter, dimensions, quantity, reason."""
    box = re.search(r'<div class="unpriced-usage unpriced card">.*?</table>', html, re.S)
    return table_rows(box.group(0))[1:] if box else []


def periods(html: str) -> list[tuple[str, str, bool]]:
    picker = element(html, "period-picker")
    return [
        (value, text(label), "selected" in attrs)
        for value, attrs, label in re.findall(
            r'<option value="([^"]*)"([^>]*)>(.*?)</option>', picker, re.S
        )
    ]


def send(customer_id: str, records: list[dict[str, object]], now: datetime) -> None:
    result = events_ingest(records=records, default_customer_id=customer_id, now=now)
    assert result.rejected == [], result.rejected


def test_invoice_itemizes_the_guides_usage_by_model_and_token_type(
    admin_client: Client, guide: Guide
) -> None:
    html = invoice_page(admin_client, guide.customer)

    assert lines(html) == GUIDE_LINES
    assert unpriced(html) == []
    heading = text(element(html, "invoice").split("<nav", 1)[0])
    assert "Chatbot Usage Plan · 1 Mar 2025 – 1 Apr 2025 · Current period, in progress" in heading


def test_the_customer_page_loads_the_billing_region_with_its_query(
    admin_client: Client, guide: Guide
) -> None:
    query = {"period": token(guide.assignment, MAR), "view": "simplified"}
    html = page(admin_client.get(reverse("customers:detail", args=[guide.customer.pk]), query))

    placeholder = element(html, "billing")
    url = f"{billing_url(guide.customer)}?period={guide.assignment.pk}%40"
    assert f'hx-get="{url}2025-03-01T00%3A00%3A00Z&amp;view=simplified"' in placeholder
    assert 'hx-trigger="load"' in placeholder
    # Without JavaScript the region is a link away.
    assert f'href="{url}2025-03-01T00%3A00%3A00Z&amp;view=simplified"' in placeholder
    assert 'id="plans"' in html
    assert "invoice-lines" not in html


def test_billing_htmx_request_gets_only_the_billing_region(
    admin_client: Client, guide: Guide
) -> None:
    response = admin_client.get(billing_url(guide.customer), headers=HTMX)

    html = page(response)
    assert html.lstrip().startswith('<div id="billing"')
    assert "<html" not in html
    assert 'id="plans"' not in html
    assert total(element(html, "invoice")) == "$0.14"
    assert 'id="customer-invoices"' in html
    assert "HX-Request" in response["Vary"]


def test_invoice_htmx_request_gets_only_the_invoice(admin_client: Client, guide: Guide) -> None:
    response = admin_client.get(
        billing_url(guide.customer),
        {"view": "simplified"},
        headers={**HTMX, "HX-Target": "invoice"},
    )

    html = page(response)
    assert html.lstrip().startswith('<section id="invoice"')
    assert "<html" not in html
    assert 'id="plans"' not in html
    assert 'id="customer-invoices"' not in html
    assert total(html) == "$0.14"
    assert "HX-Request" in response["Vary"]


def test_the_period_picker_and_tabs_swap_only_the_invoice(
    admin_client: Client, guide: Guide
) -> None:
    invoice = element(invoice_page(admin_client, guide.customer), "invoice")

    swaps = re.findall(r'hx-get="([^"]*)"[^>]*hx-target="([^"]*)"', invoice)
    assert len(swaps) == 4  # itself when coupons change, the period picker, the two tabs
    assert {target for _, target in swaps} == {"#invoice"}
    assert all(url.startswith(billing_url(guide.customer)) for url, _ in swaps)


def test_simplified_invoice_shows_one_line_per_rate(admin_client: Client, guide: Guide) -> None:
    html = invoice_page(admin_client, guide.customer, view="simplified")

    assert lines(html) == [
        ["Description", "Quantity", "Unit price", "Amount"],
        ["API calls", "10", "$0.01", "$0.10"],
        ["LLM tokens", "3,000", "by dimension", "$0.04"],
        ["Total", "$0.14"],
    ]


def test_the_pdf_link_downloads_the_period_and_view_on_screen(
    admin_client: Client, guide: Guide
) -> None:
    html = invoice_page(admin_client, guide.customer, view="simplified")

    pdf = reverse("invoices:pdf", args=[guide.customer.pk])
    assert f'href="{pdf}?period={token(guide.assignment, MAR)}&amp;view=simplified"' in html


def test_usage_missing_from_the_pricing_matrix_is_shown_but_not_billed(
    admin_client: Client, guide: Guide, now: datetime
) -> None:
    model_c = {"meterApiName": "llm-tokens", "meterValue": 5000, "uniqueId": "model-c-1"}
    send("test-customer", [{**model_c, "dimensions": {"model": "model c", "type": "input"}}], now)

    html = invoice_page(admin_client, guide.customer)

    assert unpriced(html) == [
        [
            "LLM tokens",
            "model: model c type: input",
            "5,000",
            "no price for model c · input in the pricing matrix",
        ]
    ]
    assert lines(html) == GUIDE_LINES
    assert "Unpriced usage — not billed" in text(html)


def test_usage_without_a_priced_dimension_is_shown_but_not_billed(
    admin_client: Client, guide: Guide, now: datetime
) -> None:
    untyped = {"meterApiName": "llm-tokens", "meterValue": 700, "uniqueId": "untyped"}
    send("test-customer", [{**untyped, "dimensions": {"model": "model a"}}], now)

    html = invoice_page(admin_client, guide.customer)

    assert unpriced(html) == [
        [
            "LLM tokens",
            "model: model a type: (none)",
            "700",
            "events without the dimension type, which this rate prices by",
        ]
    ]
    assert total(html) == "$0.14"


def test_usage_of_a_meter_outside_the_plan_is_shown_but_not_billed(
    admin_client: Client, guide: Guide, now: datetime
) -> None:
    MeterFactory.create(label="GPU hours", api_name="gpu-hours")
    send("test-customer", [{"meterApiName": "gpu-hours", "meterValue": 3, "uniqueId": "g"}], now)

    html = invoice_page(admin_client, guide.customer)

    assert unpriced(html) == [
        ["GPU hours", "—", "3", "the meter is not in the plan Chatbot Usage Plan"]
    ]
    assert total(html) == "$0.14"


def test_usage_before_the_plan_starts_is_listed_as_outside_any_assignment(
    admin_client: Client, guide: Guide, now: datetime
) -> None:
    february = millis(datetime(2025, 2, 20, tzinfo=UTC))
    send(
        "test-customer",
        [{"meterApiName": "api-calls", "meterValue": 40, "meterTimeInMillis": february}],
        now,
    )

    html = invoice_page(admin_client, guide.customer)

    outside = element(html, "unassigned")
    assert "Usage outside any plan assignment — not billed" in text(outside)
    assert table_rows(outside)[1:] == [
        ["API calls", "—", "40", "no plan was assigned at that time"]
    ]
    assert total(html) == "$0.14"


def test_a_customer_whose_usage_is_all_covered_has_no_outside_usage_section(
    admin_client: Client, guide: Guide
) -> None:
    assert element(invoice_page(admin_client, guide.customer), "unassigned") == ""


def test_usage_on_the_period_boundaries_is_billed_in_exactly_one_period(
    admin_client: Client, now: datetime
) -> None:
    guide = guide_setup(now, events=False, start_at=JAN)
    send(
        "test-customer",
        [
            {"meterApiName": "api-calls", "meterValue": 1, "meterTimeInMillis": millis(MAR)},
            {
                "meterApiName": "api-calls",
                "meterValue": 100,
                "meterTimeInMillis": millis(MAR - timedelta(milliseconds=1)),
            },
        ],
        now,
    )

    march = invoice_page(admin_client, guide.customer)
    february = invoice_page(admin_client, guide.customer, period=token(guide.assignment, FEB))

    assert lines(march)[2] == ["API calls", "1", "$0.01", "$0.01"]
    assert lines(february)[2] == ["API calls", "100", "$0.01", "$1.00"]


def test_an_earlier_period_with_usage_can_be_picked(admin_client: Client, now: datetime) -> None:
    guide = guide_setup(now, start_at=JAN)
    february = millis(datetime(2025, 2, 10, tzinfo=UTC))
    send(
        "test-customer",
        [{"meterApiName": "api-calls", "meterValue": 20, "meterTimeInMillis": february}],
        now,
    )
    a = guide.assignment

    current = invoice_page(admin_client, guide.customer)
    picked = invoice_page(admin_client, guide.customer, period=token(a, FEB))

    # January had no usage, so it is not offered.
    assert periods(current) == [
        (token(a, MAR), "1 Mar 2025 – 1 Apr 2025 (current)", True),
        (token(a, FEB), "1 Feb 2025 – 1 Mar 2025", False),
    ]
    assert total(current) == "$0.14"
    assert [option[2] for option in periods(picked)] == [False, True]
    assert lines(picked) == [
        ["Description", "Quantity", "Unit price", "Amount"],
        ["API calls · Per unit"],
        ["API calls", "20", "$0.01", "$0.20"],
        ["Subtotal · API calls", "$0.20"],
        ["LLM tokens · Dimensions (pricing matrix)"],
        ["No usage in this period."],
        ["Subtotal · LLM tokens", "$0.00"],
        ["Total", "$0.20"],
    ]
    assert "Current period, in progress" not in text(picked)


@pytest.mark.parametrize(
    "unknown",
    [
        "999@2025-03-01T00:00:00Z",  # no such assignment
        "{pk}@2025-03-15T00:00:00Z",  # not a period start
        "{pk}@2025-05-01T00:00:00Z",  # not begun yet
        "{pk}@2025-02-01T00:00:00Z",  # before the assignment
        "{pk}@2025-03-01",
        "{pk}@9999-99-99T00:00:00Z",
        "{pk}-0",  # the old index form
        "abc",
        "-1",
        "@",
    ],
)
def test_an_unknown_period_shows_the_current_one(
    admin_client: Client, guide: Guide, unknown: str
) -> None:
    html = invoice_page(admin_client, guide.customer, period=unknown.format(pk=guide.assignment.pk))

    assert total(html) == "$0.14"


def test_another_customers_period_is_never_shown(admin_client: Client, guide: Guide) -> None:
    other = CustomerFactory.create()

    html = invoice_page(admin_client, other, period=token(guide.assignment, MAR))

    assert "No invoice yet" in text(element(html, "invoice"))
    assert "invoice-lines" not in html


def test_a_customer_without_a_plan_sees_the_empty_state(admin_client: Client, db: None) -> None:
    customer = CustomerFactory.create(name="New Customer")

    html = invoice_page(admin_client, customer)

    invoice = text(element(html, "invoice"))
    assert "No invoice yet" in invoice
    assert "Assign a pricing plan" in invoice
    assert "Download PDF" not in invoice


def test_duplicate_event_does_not_change_total(
    admin_client: Client, guide: Guide, now: datetime
) -> None:
    resent = guide_records(now - timedelta(minutes=1))
    resent[0]["meterValue"] = 1_000_000  # same uniqueId, a different value: still the same event

    result = events_ingest(records=resent, now=now)

    assert (result.accepted, result.duplicates) == (0, 4)
    assert lines(invoice_page(admin_client, guide.customer)) == GUIDE_LINES


def test_an_assignment_ending_mid_period_stops_counting_usage_at_its_end(
    admin_client: Client, now: datetime
) -> None:
    guide = guide_setup(now, events=False)
    send(
        "test-customer",
        [
            {
                "meterApiName": "api-calls",
                "meterValue": 10,
                "meterTimeInMillis": millis(datetime(2025, 3, 5, tzinfo=UTC)),
            },
            {
                "meterApiName": "api-calls",
                "meterValue": 30,
                "meterTimeInMillis": millis(datetime(2025, 3, 12, tzinfo=UTC)),
            },
        ],
        now,
    )
    assignment_end(assignment=guide.assignment, end_at=datetime(2025, 3, 10, tzinfo=UTC))

    html = invoice_page(admin_client, guide.customer)

    heading = text(element(html, "invoice").split("<nav", 1)[0])
    assert "Chatbot Usage Plan · 1 Mar 2025 – 10 Mar 2025" in heading
    assert "in progress" not in heading
    assert lines(html)[2] == ["API calls", "10", "$0.01", "$0.10"]
    assert total(html) == "$0.10"
    assert table_rows(element(html, "unassigned"))[1:] == [
        ["API calls", "—", "30", "no plan was assigned at that time"]
    ]


def test_the_current_period_follows_the_clock(
    admin_client: Client, guide: Guide, time_machine: TimeMachineFixture
) -> None:
    time_machine.move_to(datetime(2025, 4, 2, 9, 0, tzinfo=UTC), tick=False)

    html = invoice_page(admin_client, guide.customer)

    a = guide.assignment
    assert [option[:2] for option in periods(html)] == [
        (token(a, APR), "1 Apr 2025 – 1 May 2025 (current)"),
        (token(a, MAR), "1 Mar 2025 – 1 Apr 2025"),
    ]
    assert total(html) == "$0.00"
    march = current_period(guide.customer, datetime(2025, 3, 31, 23, 59, tzinfo=UTC))
    assert march is not None and march.token == token(a, MAR)


def test_invoice_period_is_shown_in_the_billing_time_zone(
    admin_client: Client, now: datetime, settings: Settings
) -> None:
    settings.TIME_ZONE = "Europe/Berlin"
    berlin_march = datetime(2025, 2, 28, 23, 0, tzinfo=UTC)  # 1 March 00:00 in Berlin
    guide = guide_setup(now, start_at=berlin_march)

    html = invoice_page(admin_client, guide.customer)

    assert "1 Mar 2025 – 1 Apr 2025" in text(element(html, "invoice").split("<nav", 1)[0])
