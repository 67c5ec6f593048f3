"""Dimension values that differ only in whitespace look different on the page:
"model  a" (two spaces, unpriced) is not shown like the priced "model a"."""

from __future__ import annotations

import html as html_lib
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from time_machine import TimeMachineFixture

from meters.services import events_ingest
from meters.templatetags.dimension_values import visible_spaces
from meters.whitespace import has_odd_whitespace, whitespace_pieces
from tests.factories import Guide, guide_setup, millis
from tests.fixtures import element, page, text

NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)


def shown(fragment: str) -> str:
    """The text as it reads on screen: tags dropped without adding spaces."""
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", "", fragment)).split())


@pytest.mark.parametrize(
    ("value", "odd"),
    [
        ("model a", False),
        ("model  a", True),
        (" model a", True),
        ("model a ", True),
        ("model\ta", True),
        ("model\xa0a", True),
        ("", False),
    ],
)
def test_only_easy_to_miss_whitespace_is_marked(value: str, odd: bool) -> None:
    assert has_odd_whitespace(value) is odd
    assert "".join(p.text for p in whitespace_pieces(value)) == value


def test_a_doubled_space_is_shown_as_two_signs_titled_two_spaces() -> None:
    assert str(visible_spaces("model  a")) == (
        'model<span class="ws" role="img" title="2 spaces" aria-label="2 spaces">␣␣</span>a'
    )
    assert str(visible_spaces("model a")) == "model a"
    assert str(visible_spaces("<b>  ")) == (
        '&lt;b&gt;<span class="ws" role="img" title="2 spaces" aria-label="2 spaces">␣␣</span>'
    )
    assert 'title="1 tab"' in visible_spaces("a\tb")


@pytest.fixture
def guide(db: None, time_machine: TimeMachineFixture) -> Guide:
    time_machine.move_to(NOW, tick=False)
    guide = guide_setup(NOW)
    events_ingest(
        records=[
            {
                "meterApiName": "llm-tokens",
                "meterValue": 5000,
                "customerId": "test-customer",
                "uniqueId": "two-spaces",
                "meterTimeInMillis": millis(NOW - timedelta(minutes=2)),
                "dimensions": {"model": "model  a", "type": "input"},
            }
        ],
        now=NOW,
    )
    return guide


def test_unpriced_value_with_two_spaces_is_told_apart_from_the_priced_one(
    admin_client: Client, guide: Guide
) -> None:
    url = reverse("invoices:customer_billing", args=[guide.customer.pk])
    html = page(admin_client.get(url))

    unpriced = element(html, "invoice").split("Unpriced usage", 1)[1]
    assert "model: model␣␣a" in shown(unpriced)
    assert "no price for model␣␣a · input in the pricing matrix" in shown(unpriced)
    assert 'title="2 spaces"' in unpriced
    assert "matched exactly as sent, space for space" in text(unpriced)
    # The priced line keeps its ordinary look.
    assert "LLM tokens · model a · input" in text(element(html, "invoice"))


def test_events_table_marks_the_doubled_space(admin_client: Client, guide: Guide) -> None:
    html = page(admin_client.get(reverse("meters:detail", args=[guide.llm_tokens.pk])))

    assert "model: model␣␣a" in shown(html)
    assert "model: model a" in shown(html)
