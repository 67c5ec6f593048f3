"""Editing a meter: only its label changes, held to the create rules
(meters.meter_rules) on the page and through PATCH /api/v1/meters/{id}; the
API name, type and dimensions are shown, fixed."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from django.test import Client
from django.urls import reverse

from billing_site.roles import ADMIN, VIEWER
from meters.api_keys import api_key_create
from meters.models import ApiKey, Meter
from tests.api.conftest import Api, errors
from tests.factories import MeterFactory
from tests.fixtures import HTMX, element, field_errors, login, page, text

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db


@pytest.fixture
def api() -> Api:
    return Api(api_key_create(name="edit tests", scope=ApiKey.Scope.FULL)[1])


@pytest.fixture
def meter() -> Meter:
    return MeterFactory.create(
        label="LLM tokens", api_name="llm-tokens", dimensions=["model", "type"]
    )


def edit_url(meter: Meter) -> str:
    return reverse("meters:edit", args=[meter.pk])


def patch(api: Api, meter: Meter, body: object) -> Response:
    return api.client.patch(
        f"/api/v1/meters/{meter.pk}", json.dumps(body), content_type="application/json"
    )


def test_the_edit_page_shows_the_label_and_the_fixed_fields_with_the_reason(
    client: Client, meter: Meter
) -> None:
    html = page(login(client).get(edit_url(meter)))

    assert 'value="LLM tokens"' in element(html, "field-label")
    fixed = text(element(html, "fixed-fields"))
    assert "llm-tokens" in fixed and "model" in fixed and "type" in fixed
    assert 'name="api_name"' not in html
    assert "usage events address the meter by its API name" in text(html)


def test_a_new_label_is_saved_stripped_and_the_meter_page_says_so(
    client: Client, meter: Meter
) -> None:
    login(client)

    response = client.post(edit_url(meter), {"label": "  Tokens  "}, follow=True)

    meter.refresh_from_db()
    assert (meter.label, meter.api_name, meter.dimensions) == (
        "Tokens",
        "llm-tokens",
        ["model", "type"],
    )
    assert response.redirect_chain[-1][0] == meter.get_absolute_url()
    assert "Meter “Tokens” saved." in text(page(response))


@pytest.mark.parametrize(
    ("label", "reason"),
    [
        ("   ", "Give the meter a label."),
        ("x" * 101, "A label has at most 100 characters."),
        ("LLM\x01tokens", "A label must not contain control characters."),
    ],
)
def test_a_label_breaking_a_create_rule_is_refused_next_to_the_field(
    client: Client, meter: Meter, label: str, reason: str
) -> None:
    response = login(client).post(edit_url(meter), {"label": label})

    assert response.status_code == 200
    assert field_errors(page(response), "label") == [reason]
    meter.refresh_from_db()
    assert meter.label == "LLM tokens"


def test_an_htmx_edit_with_an_error_answers_the_form_alone(client: Client, meter: Meter) -> None:
    response = login(client).post(edit_url(meter), {"label": ""}, headers=HTMX)

    html = page(response)
    assert "<html" not in html
    assert element(html, "meter-edit-form")
    assert field_errors(html, "label") == ["Give the meter a label."]


def test_a_viewer_cannot_open_or_post_the_edit_page_nor_sees_its_link(
    client: Client, meter: Meter
) -> None:
    login(client, role=VIEWER)

    assert client.get(edit_url(meter)).status_code == 403
    assert client.post(edit_url(meter), {"label": "Renamed"}).status_code == 403
    assert edit_url(meter) not in page(client.get(meter.get_absolute_url()))
    meter.refresh_from_db()
    assert meter.label == "LLM tokens"


def test_an_admin_sees_the_edit_link_on_the_meter_page(client: Client, meter: Meter) -> None:
    login(client, role=ADMIN)

    assert f'href="{edit_url(meter)}"' in page(client.get(meter.get_absolute_url()))


# PATCH /api/v1/meters/{id}


def test_the_api_changes_the_label_stripped(api: Api, meter: Meter) -> None:
    response = patch(api, meter, {"label": " Tokens "})

    assert response.status_code == 200
    assert response.json()["label"] == "Tokens"
    meter.refresh_from_db()
    assert meter.label == "Tokens"


def test_the_api_refuses_a_label_breaking_a_create_rule_on_its_field(
    api: Api, meter: Meter
) -> None:
    response = patch(api, meter, {"label": "LLM\x01tokens"})

    assert response.status_code == 400
    assert errors(response) == [("label", "A label must not contain control characters.")]


@pytest.mark.parametrize("field", ["api_name", "meter_type", "dimensions", "unique_dimension"])
def test_the_api_refuses_to_change_what_events_depend_on_naming_the_field(
    api: Api, meter: Meter, field: str
) -> None:
    response = patch(api, meter, {"label": "Tokens", field: "x"})

    assert response.status_code == 422
    assert [f for f, _ in errors(response)] == [field]
    meter.refresh_from_db()
    assert (meter.label, meter.api_name) == ("LLM tokens", "llm-tokens")
