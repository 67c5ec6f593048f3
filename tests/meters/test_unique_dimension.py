"""“Unique dimension” means something only on a unique-count meter: the create
page shows it for that type (static/js/app.js hides it for the others, and its
help text says so without JavaScript), the page ignores a value left in the
hidden field, and the API and the admin refuse one rather than drop it."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from meters.api_keys import api_key_create
from meters.meter_rules import NOT_COUNTED_MESSAGE, check_meter
from meters.models import ApiKey, Meter
from tests.fixtures import element, login, page, text

COUNT_WITH_UNIQUE = {
    "label": "LLM tokens",
    "api_name": "llm-tokens",
    "meter_type": "count",
    "dimensions": ["model", "user"],
    "unique_dimension": "user",
}


def test_a_unique_dimension_on_another_type_breaks_a_rule() -> None:
    fields, problems = check_meter(**COUNT_WITH_UNIQUE)

    assert problems == {"unique_dimension": NOT_COUNTED_MESSAGE}


@pytest.mark.django_db
def test_the_create_page_ties_the_field_to_the_unique_count_type(client: Client) -> None:
    html = page(login(client).get(reverse("meters:create")))

    assert re.search(
        r'<div data-shown-for="meter_type" data-shown-value="unique_count">\s*'
        r'<div class="field" id="field-unique_dimension">',
        html,
    )
    assert "Unique count meters only" in text(element(html, "field-unique_dimension"))


@pytest.mark.django_db
def test_the_page_ignores_a_unique_dimension_left_in_the_hidden_field(client: Client) -> None:
    response = login(client).post(reverse("meters:create"), COUNT_WITH_UNIQUE)

    assert response.status_code == 302
    meter = Meter.objects.get()
    assert (meter.meter_type, meter.unique_dimension) == ("count", "")


@pytest.mark.django_db
def test_the_api_refuses_a_unique_dimension_on_a_count_meter(client: Client) -> None:
    key = api_key_create(name="rules", scope=ApiKey.Scope.FULL)[1]

    response = client.post(
        "/api/v1/meters",
        json.dumps(COUNT_WITH_UNIQUE),
        content_type="application/json",
        headers={"X-API-KEY": key},
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "unique_dimension", "reason": NOT_COUNTED_MESSAGE}
    ]
    assert not Meter.objects.exists()


@pytest.mark.django_db
def test_the_admin_refuses_a_unique_dimension_on_a_count_meter(admin_client: Client) -> None:
    data = {**COUNT_WITH_UNIQUE, "dimensions": json.dumps(COUNT_WITH_UNIQUE["dimensions"])}

    response = admin_client.post(reverse("admin:meters_meter_add"), data)

    assert response.status_code == 200
    assert NOT_COUNTED_MESSAGE in text(page(response))
    assert not Meter.objects.exists()
