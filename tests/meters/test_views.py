"""The meters screens: listing, creating (with dimensions) and a meter's page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from meters.models import Meter
from meters.services import events_ingest
from tests.factories import CustomerFactory, MeterFactory
from tests.fixtures import (
    HTMX,
    assert_login_redirect,
    element,
    field_errors,
    form_errors,
    login,
    page,
    table_rows,
    text,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def tokens() -> Meter:
    return MeterFactory.create(
        label="LLM tokens", api_name="llm-tokens", dimensions=["model", "type"]
    )


def create(client: Client, **overrides: object) -> str:
    data: dict[str, object] = {
        "label": "LLM tokens",
        "api_name": "llm-tokens",
        "meter_type": "count",
        "dimensions": ["model", "type"],
        "unique_dimension": "",
        **overrides,
    }
    return page(client.post(reverse("meters:create"), data))


def test_anonymous_users_are_sent_to_log_in_from_every_meters_page(
    client: Client, tokens: Meter
) -> None:
    for method, url in [
        ("get", reverse("meters:list")),
        ("get", reverse("meters:create")),
        ("post", reverse("meters:create")),
        ("get", reverse("meters:dimension_row")),
        ("get", reverse("meters:detail", args=[tokens.pk])),
        ("post", reverse("meters:upload", args=[tokens.pk])),
    ]:
        assert_login_redirect(getattr(client, method)(url), url)

    assert Meter.objects.count() == 1


def test_a_logged_in_billing_user_sees_the_meters(client: Client, tokens: Meter) -> None:
    response = login(client).get(reverse("meters:list"))

    assert response.status_code == 200
    assert "LLM tokens" in text(element(page(response), "meter-table"))


def test_meter_list_shows_each_meter_with_its_dimensions(admin_client: Client) -> None:
    MeterFactory.create(label="API calls", api_name="api-calls")
    MeterFactory.create(label="LLM tokens", api_name="llm-tokens", dimensions=["model", "type"])

    html = page(admin_client.get(reverse("meters:list")))

    assert "<html" in html
    rows = table_rows(element(html, "meter-table"))
    assert rows[0][:4] == ["Label", "API name", "Type", "Dimensions"]
    assert [row[:4] for row in rows[1:]] == [
        ["API calls", "api-calls", "Count (sum of values)", "—"],
        ["LLM tokens", "llm-tokens", "Count (sum of values)", "model type"],
    ]


def test_meter_list_htmx_request_gets_only_the_table(admin_client: Client, tokens: Meter) -> None:
    response = admin_client.get(reverse("meters:list"), headers=HTMX)

    html = page(response)
    assert 'id="meter-table"' in html
    assert "<html" not in html
    assert "LLM tokens" in html
    assert "HX-Request" in response["Vary"]


def test_meter_list_without_meters_invites_creating_one(admin_client: Client) -> None:
    html = page(admin_client.get(reverse("meters:list")))

    assert "No meters yet" in text(element(html, "meter-table"))
    assert reverse("meters:create") in element(html, "meter-table")


@pytest.mark.parametrize(
    ("sort", "labels"),
    [
        ("", ["Alpha", "Beta", "Gamma"]),
        ("api_name", ["Beta", "Gamma", "Alpha"]),
        ("-api_name", ["Alpha", "Gamma", "Beta"]),
        ("-label", ["Gamma", "Beta", "Alpha"]),
    ],
)
def test_meter_list_sorts_by_the_chosen_column(
    admin_client: Client, sort: str, labels: list[str]
) -> None:
    MeterFactory.create(label="Alpha", api_name="zeta")
    MeterFactory.create(label="Beta", api_name="eta")
    MeterFactory.create(label="Gamma", api_name="theta")

    html = page(admin_client.get(reverse("meters:list"), {"sort": sort} if sort else {}))

    assert [row[0] for row in table_rows(element(html, "meter-table"))[1:]] == labels


def test_create_meter_stores_its_dimensions_and_opens_its_page(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("meters:create"),
        {
            "label": "LLM tokens",
            "api_name": "llm-tokens",
            "meter_type": "count",
            "dimensions": ["model", "type", ""],
        },
    )

    meter = Meter.objects.get()
    assert (meter.label, meter.api_name, meter.meter_type) == ("LLM tokens", "llm-tokens", "count")
    assert meter.dimensions == ["model", "type"]
    assert response.status_code == 302
    assert response["Location"] == reverse("meters:detail", args=[meter.pk])
    assert "Meter “LLM tokens” created." in text(page(admin_client.get(response["Location"])))


def test_create_meter_without_dimensions_is_the_guides_api_calls_meter(
    admin_client: Client,
) -> None:
    create(admin_client, label="API calls", api_name="api-calls", dimensions=[])

    assert Meter.objects.get().dimensions == []


def test_create_meter_over_htmx_answers_with_a_client_redirect(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("meters:create"),
        {"label": "API calls", "api_name": "api-calls", "meter_type": "count"},
        headers=HTMX,
    )

    meter = Meter.objects.get()
    assert response["HX-Redirect"] == reverse("meters:detail", args=[meter.pk])


def test_a_taken_api_name_is_refused_next_to_the_field(admin_client: Client, tokens: Meter) -> None:
    html = create(admin_client, label="Tokens again")

    assert field_errors(html, "api_name") == ["Meter with this API name already exists."]
    assert list(Meter.objects.values_list("label", flat=True)) == ["LLM tokens"]


@pytest.mark.parametrize("api_name", ["LLM Tokens", "llm_tokens", "-llm", "llm--tokens"])
def test_an_invalid_api_name_is_refused_next_to_the_field(
    admin_client: Client, api_name: str
) -> None:
    html = create(admin_client, api_name=api_name)

    [error] = field_errors(html, "api_name")
    assert "lowercase letters, digits and single hyphens" in error
    assert not Meter.objects.exists()


def test_a_dimension_listed_twice_is_refused_and_the_rows_are_kept(admin_client: Client) -> None:
    html = create(admin_client, dimensions=["model", "type", "model"])

    assert field_errors(html, "dimensions") == ["The dimension “model” is listed twice."]
    rows = element(html, "dimension-rows")
    assert rows.count('name="dimensions"') == 3
    assert not Meter.objects.exists()


def test_an_invalid_dimension_name_is_refused(admin_client: Client) -> None:
    html = create(admin_client, dimensions=["model type"])

    [error] = field_errors(html, "dimensions")
    assert "“model type” is not a valid dimension name" in error
    assert not Meter.objects.exists()


def test_a_unique_count_meter_needs_the_dimension_it_counts(admin_client: Client) -> None:
    html = create(admin_client, meter_type="unique_count", dimensions=["user"])

    assert field_errors(html, "unique_dimension") == [
        "Name the dimension whose values are counted."
    ]
    assert not Meter.objects.exists()


def test_a_unique_count_meter_must_count_one_of_its_dimensions(admin_client: Client) -> None:
    html = create(
        admin_client, meter_type="unique_count", dimensions=["user"], unique_dimension="region"
    )

    assert field_errors(html, "unique_dimension") == ["This must be one of the meter's dimensions."]
    assert not Meter.objects.exists()


def test_a_unique_count_meter_is_created_with_its_counted_dimension(admin_client: Client) -> None:
    create(
        admin_client,
        label="Active users",
        api_name="active-users",
        meter_type="unique_count",
        dimensions=["user"],
        unique_dimension="user",
    )

    assert Meter.objects.get().unique_dimension == "user"


def test_create_meter_errors_over_htmx_come_back_in_the_form_partial(
    admin_client: Client, tokens: Meter
) -> None:
    response = admin_client.post(
        reverse("meters:create"),
        {"label": "LLM tokens", "api_name": "llm-tokens", "meter_type": "count"},
        headers=HTMX,
    )

    html = page(response)
    assert html.lstrip().startswith('<form id="meter-form"')
    assert "<html" not in html
    assert field_errors(html, "api_name") == ["Meter with this API name already exists."]
    assert form_errors(html) == []


def test_add_dimension_returns_one_empty_row(admin_client: Client) -> None:
    html = page(admin_client.get(reverse("meters:dimension_row"), headers=HTMX))

    assert html.count('name="dimensions"') == 1
    assert 'value=""' in html
    assert "<html" not in html


def test_meter_page_shows_its_events(admin_client: Client, tokens: Meter) -> None:
    CustomerFactory.create(customer_id="test-customer")
    events_ingest(
        records=[
            {
                "meterValue": 1000,
                "customerId": "test-customer",
                "uniqueId": "req-1",
                "meterTimeInMillis": 1741953600000,  # 2025-03-14 12:00 UTC
                "dimensions": {"model": "model a", "type": "input"},
            }
        ],
        default_meter=tokens,
        now=NOW,
    )

    html = page(admin_client.get(reverse("meters:detail", args=[tokens.pk])))

    assert "llm-tokens" in text(html)
    [header, row] = table_rows(element(html, "event-table"))
    assert header[:5] == ["Event time (UTC)", "Customer ID", "Value", "Dimensions", "Unique ID"]
    assert row[:5] == [
        "2025-03-14 12:00:00",
        "test-customer",
        "1,000",
        "model: model a type: input",
        "req-1",
    ]
    assert 'id="upload"' in html


def test_meter_page_without_events_says_so(admin_client: Client, tokens: Meter) -> None:
    html = page(admin_client.get(reverse("meters:detail", args=[tokens.pk])))

    assert "No events yet." in text(element(html, "event-table"))


def test_meter_page_htmx_request_gets_only_the_event_table(
    admin_client: Client, tokens: Meter
) -> None:
    html = page(admin_client.get(reverse("meters:detail", args=[tokens.pk]), headers=HTMX))

    assert 'id="event-table"' in html
    assert "<html" not in html


def test_unknown_meter_is_not_found(admin_client: Client) -> None:
    assert admin_client.get(reverse("meters:detail", args=[999])).status_code == 404
