"""The rejected records screen: what the ingestion API and uploads refused,
filterable by field, meter and day received, with HTMX swapping the table."""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from time_machine import TimeMachineFixture

from meters.models import Meter, RejectedRecord
from meters.services import events_ingest
from meters.tables_api import RejectedRecordTable
from tests.factories import MeterFactory, millis
from tests.fixtures import HTMX, assert_login_redirect, element, login, page, table_rows, text

pytestmark = pytest.mark.django_db

URL = "/meters/rejected/"
DAY_1 = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
DAY_2 = datetime(2025, 3, 12, 9, 0, tzinfo=UTC)
DAY_3 = datetime(2025, 3, 14, 9, 0, tzinfo=UTC)
HEADER = [
    "Received",
    "Source",
    "Record #",
    "Meter",
    "Customer ID",
    "Field",
    "Reason",
    "Record as received",
]


@pytest.fixture
def tokens() -> Meter:
    return MeterFactory.create(
        label="LLM tokens", api_name="llm-tokens", dimensions=["model", "type"]
    )


@pytest.fixture
def calls() -> Meter:
    return MeterFactory.create(label="API calls", api_name="api-calls")


def send(at: datetime, records: list[object], source: str, tm: TimeMachineFixture) -> None:
    tm.move_to(at, tick=False)
    events_ingest(records=records, create_customers=True, source=source)


@pytest.fixture
def rejections(tokens: Meter, calls: Meter, time_machine: TimeMachineFixture) -> None:
    """Six rejections over three days, from the API and from uploads."""
    api, upload = RejectedRecord.Source.API, RejectedRecord.Source.UPLOAD
    when = millis(DAY_1 - timedelta(hours=1))
    good = {"meterApiName": "api-calls", "meterValue": 1, "customerId": "acme"}
    send(
        DAY_1,
        [
            {**good, "meterApiName": "gpu-hours"},
            good,
            {"meterApiName": "llm-tokens", "meterValue": "ten", "customerId": "acme"},
        ],
        api,
        time_machine,
    )
    send(
        DAY_2,
        [
            {
                "meterApiName": "llm-tokens",
                "meterValue": 5,
                "customerId": "globex",
                "meterTimeInMillis": when,
                "dimensions": {"region": "eu"},
            },
            {"meterApiName": "api-calls", "meterValue": True, "customerId": "globex"},
        ],
        upload,
        time_machine,
    )
    send(DAY_3, ["not a record", {"meterApiName": "api-calls", "meterValue": 2}], api, time_machine)


def rows(html: str) -> list[list[str]]:
    return table_rows(element(html, "rejected-table"))[1:]


def reasons(html: str) -> list[str]:
    return [row[6] for row in rows(html)]


def get(client: Client, htmx: bool = False, **params: str) -> str:
    return page(client.get(URL, params, headers=HTMX if htmx else {}))


def test_the_url_is_where_the_link_says(client: Client) -> None:
    assert reverse("meters:rejected") == URL
    html = page(login(client).get(reverse("meters:list")))
    assert f'<a class="button" href="{URL}">Rejected records</a>' in html


def test_anonymous_users_are_sent_to_log_in(client: Client) -> None:
    assert_login_redirect(client.get(URL), URL)


def test_every_rejection_is_listed_newest_first_with_its_reason(
    client: Client, rejections: None
) -> None:
    html = get(login(client))

    table = table_rows(element(html, "rejected-table"))
    assert table[0] == HEADER
    assert [row[:7] for row in table[1:]] == [
        [
            "2025-03-14 09:00:00",
            "Ingestion API",
            "1",
            "—",
            "—",
            "—",
            "a usage record must be a JSON object",
        ],
        [
            "2025-03-14 09:00:00",
            "Ingestion API",
            "2",
            "API calls",
            "—",
            "customerId",
            "customerId is missing or empty",
        ],
        [
            "2025-03-12 09:00:00",
            "Upload in the UI",
            "1",
            "LLM tokens",
            "globex",
            "dimensions",
            "meter 'llm-tokens' does not define the dimension region",
        ],
        [
            "2025-03-12 09:00:00",
            "Upload in the UI",
            "2",
            "API calls",
            "globex",
            "meterValue",
            "meterValue must be a finite number, got true",
        ],
        [
            "2025-03-10 09:00:00",
            "Ingestion API",
            "1",
            "gpu-hours (unknown)",
            "acme",
            "meterApiName",
            'unknown meter "gpu-hours"',
        ],
        [
            "2025-03-10 09:00:00",
            "Ingestion API",
            "3",
            "LLM tokens",
            "acme",
            "meterValue",
            'meterValue must be a finite number, got "ten"',
        ],
    ]


def test_the_record_is_shown_as_compact_json(client: Client, rejections: None) -> None:
    html = get(login(client), field="meterValue", received_to="2025-03-11")

    [row] = rows(html)
    # Keys in the SDK's order on every database (jsonb does not keep the order).
    assert row[7] == '{"meterApiName": "llm-tokens", "meterValue": "ten", "customerId": "acme"}'
    # A known meter links to its page.
    meter = Meter.objects.get(api_name="llm-tokens")
    assert f'<a href="{meter.get_absolute_url()}">LLM tokens</a>' in element(html, "rejected-table")


def test_a_long_record_is_cut_short_but_kept_whole_in_its_tooltip(
    client: Client, calls: Meter
) -> None:
    long_id = "x" * 400
    events_ingest(
        records=[{"meterApiName": "api-calls", "meterValue": -1, "customerId": long_id[:255]}],
        create_customers=True,
        source=RejectedRecord.Source.API,
    )

    html = get(login(client))

    [row] = rows(html)
    assert len(row[7]) == 301
    assert row[7].endswith("…")
    title = re.search(r'<code class="record-json" title="([^"]+)"', element(html, "rejected-table"))
    assert title is not None
    assert html_lib.unescape(title.group(1)) == (
        '{"meterApiName": "api-calls", "meterValue": -1, "customerId": "' + long_id[:255] + '"}'
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"field": "meterValue"}, ["got true", 'got "ten"']),
        ({"field": "-"}, ["a usage record must be a JSON object"]),
        ({"field": "meterApiName"}, ['unknown meter "gpu-hours"']),
        ({"meter": "tokens"}, ["does not define the dimension region", 'got "ten"']),
        (
            {"received_from": "2025-03-12"},
            ["JSON object", "customerId is missing", "region", "true"],
        ),
        ({"received_to": "2025-03-12"}, ["region", "true", "gpu-hours", 'got "ten"']),
        ({"received_from": "2025-03-11", "received_to": "2025-03-13"}, ["region", "true"]),
        ({"field": "meterValue", "meter": "tokens"}, ['got "ten"']),
        ({"field": "meterValue", "received_from": "2025-03-11"}, ["got true"]),
    ],
    ids=[
        "field",
        "whole-record",
        "unknown-meter-field",
        "meter",
        "from",
        "to-includes-its-day",
        "from-to",
        "field-and-meter",
        "field-and-from",
    ],
)
def test_filters_narrow_the_list(
    client: Client, rejections: None, tokens: Meter, params: dict[str, str], expected: list[str]
) -> None:
    if "meter" in params:
        params = {**params, "meter": str(tokens.pk)}

    shown = reasons(get(login(client), htmx=True, **params))

    assert len(shown) == len(expected), shown
    for reason, fragment in zip(shown, expected, strict=True):
        assert fragment in reason


def test_the_field_filter_offers_the_fields_rejections_name(
    client: Client, rejections: None
) -> None:
    form = element(get(login(client)), "rejected-filters")

    field_select = re.search(r'<select name="field".*?</select>', form, re.S)
    assert field_select is not None
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', field_select.group())
    assert options == [
        ("", "Any field"),
        ("-", "(the whole record)"),
        ("customerId", "customerId"),
        ("dimensions", "dimensions"),
        ("meterApiName", "meterApiName"),
        ("meterValue", "meterValue"),
    ]
    assert "LLM tokens" in form
    assert "API calls" in form


def test_the_filter_form_swaps_the_table_through_htmx_and_works_without_it(
    client: Client, rejections: None
) -> None:
    form = element(get(login(client)), "rejected-filters")

    assert 'method="get"' in form
    assert f'action="{URL}"' in form
    assert f'hx-get="{URL}"' in form
    assert 'hx-target="#rejected-table"' in form
    assert 'hx-push-url="true"' in form
    assert 'type="date"' in form


def test_htmx_answers_only_the_table_region(client: Client, rejections: None) -> None:
    response = login(client).get(URL, {"field": "meterValue"}, headers=HTMX)

    html = page(response)
    assert "<html" not in html
    assert "rejected-filters" not in html
    assert html.lstrip().startswith('<section id="rejected-table"')
    assert len(rows(html)) == 2
    assert "HX-Request" in response["Vary"]


def test_a_full_page_keeps_the_chosen_filters(client: Client, rejections: None) -> None:
    form = element(
        get(login(client), field="meterValue", received_from="2025-03-11"), "rejected-filters"
    )

    assert '<option value="meterValue" selected>' in form
    assert 'value="2025-03-11"' in form
    assert "Clear filters" in text(form)


def test_without_rejections_the_page_says_what_it_is_for(client: Client) -> None:
    section = element(get(login(client)), "rejected-table")

    assert "No rejected records" in text(section)
    assert "Every usage record received so far was accepted" in text(section)
    assert "<table" not in section


def test_filters_matching_nothing_say_so_and_offer_the_whole_list(
    client: Client, rejections: None
) -> None:
    section = element(get(login(client), htmx=True, received_from="2025-04-01"), "rejected-table")

    assert "No rejected records match these filters" in text(section)
    assert f'<a href="{URL}" hx-boost="false">Show all rejected records</a>' in section


def test_a_backwards_date_range_is_explained_and_not_applied(
    client: Client, rejections: None
) -> None:
    html = get(login(client), htmx=True, received_from="2025-03-14", received_to="2025-03-10")

    assert "Received to: Pick a day on or after “Received from”." in text(html)
    assert len(rows(html)) == 6


def test_a_broken_date_is_explained_and_not_applied(client: Client, rejections: None) -> None:
    html = get(login(client), received_from="yesterday")

    assert "Received from: Enter a valid date." in text(element(html, "rejected-table"))
    assert len(rows(html)) == 6


def test_long_lists_are_paged_lazily_keeping_the_filters(client: Client, calls: Meter) -> None:
    events_ingest(
        records=[{"meterApiName": "api-calls", "meterValue": -n} for n in range(1, 56)],
        create_customers=True,
        source=RejectedRecord.Source.API,
    )
    login(client)

    first = get(client, field="meterValue")

    assert len(rows(first)) == 50
    next_link = re.search(r'<a href="(\?[^"]*page=2[^"]*)"', element(first, "rejected-table"))
    assert next_link is not None
    assert "field=meterValue" in html_lib.unescape(next_link.group(1))
    second = page(client.get(URL + html_lib.unescape(next_link.group(1)), headers=HTMX))
    assert len(rows(second)) == 5


def test_records_show_the_sdk_keys_first_then_the_others_alphabetically() -> None:
    received = {"zeta": 1, "dimensions": {"model": "a"}, "alpha": 2, "uniqueId": "u-1"}

    shown = text(RejectedRecordTable([]).render_record(received))

    assert shown == '{"uniqueId": "u-1", "dimensions": {"model": "a"}, "alpha": 2, "zeta": 1}'
