"""Sorting a paged table starts the new order at its first page: the sort
links of every django-tables2 table (templates/django_tables2/table.html) drop
`page` and keep the other parameters, while the page links keep the order."""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from time_machine import TimeMachineFixture

from meters.services import events_ingest
from tests.factories import CustomerFactory, MeterFactory, millis
from tests.fixtures import login, page

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)


PARTS = {"thead": r"<thead\b.*?</thead>", "pagination": r'<ul class="pagination">.*?</ul>'}


def links(html: str, part: str) -> list[str]:
    """The query strings of the links in the table's header or its pagination."""
    block = re.search(PARTS[part], html, re.S)
    assert block is not None, part
    return [html_lib.unescape(h) for h in re.findall(r'href="(\?[^"]*)"', block.group(0))]


def test_sorting_the_second_page_of_customers_starts_at_page_one(client: Client) -> None:
    CustomerFactory.create_batch(55)

    html = page(login(client).get(reverse("customers:list"), {"page": 2, "sort": "name"}))

    sort_links = links(html, "thead")
    assert sort_links and all("page=" not in link for link in sort_links)
    assert "?sort=-name" in sort_links
    assert all("sort=name" in link for link in links(html, "pagination"))


def test_sorting_a_meters_events_on_a_later_page_starts_at_page_one(
    client: Client, time_machine: TimeMachineFixture
) -> None:
    time_machine.move_to(NOW, tick=False)
    meter = MeterFactory.create(api_name="api-calls")
    CustomerFactory.create(customer_id="c")
    records = [
        {
            "meterApiName": "api-calls",
            "meterValue": n,
            "customerId": "c",
            "meterTimeInMillis": millis(NOW - timedelta(minutes=n + 1)),
            "uniqueId": f"e{n}",
        }
        for n in range(30)
    ]
    assert events_ingest(records=records, now=NOW).accepted == 30

    html = page(login(client).get(meter.get_absolute_url(), {"page": 2, "sort": "value"}))

    sort_links = links(html, "thead")
    assert "?sort=-value" in sort_links
    assert all("page=" not in link for link in sort_links)
