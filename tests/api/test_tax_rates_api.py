"""Tax rates over the native API: making, listing and archiving them (refusals
as 400s naming the field), giving them to a plan, and what a read key may do."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from meters.api_keys import api_key_create
from meters.models import ApiKey
from pricing.models import TaxRate
from pricing.taxes import tax_rate_create
from tests.api.conftest import BASE, Api, errors, fields
from tests.factories import Guide

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db

VAT = {"code": "uk-vat", "name": "VAT", "percentage": "20", "country": "GB"}


def vat_rate() -> TaxRate:
    return tax_rate_create(code="uk-vat", name="VAT", percentage="20", country="GB")


def put(api: Api, path: str, body: object) -> Response:
    return api.client.put(BASE + path, json.dumps(body), content_type="application/json")


def test_creating_a_tax_rate_answers_it_as_stored(api: Api) -> None:
    response = api.post("/tax-rates", VAT | {"country": "gb"})

    assert response.status_code == 201
    answer = response.json()
    rate = TaxRate.objects.get()
    assert answer["id"] == rate.pk
    assert {k: answer[k] for k in ("code", "name", "percentage", "country", "inclusive")} == {
        "code": "uk-vat",
        "name": "VAT",
        "percentage": "20",
        "country": "GB",
        "inclusive": False,
    }
    assert answer["archived_at"] is None


def test_a_percentage_sent_as_a_json_number_stays_exact(api: Api) -> None:
    response = api.client.post(
        BASE + "/tax-rates",
        '{"code": "de-vat-reduced", "name": "MwSt", "percentage": 7.5, "country": "DE"}',
        content_type="application/json",
    )

    assert response.status_code == 201
    assert response.json()["percentage"] == "7.5"
    assert TaxRate.objects.get().percentage == Decimal("7.5")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"code": "uk vat!"}, "code"),
        ({"name": " "}, "name"),
        ({"percentage": "101"}, "percentage"),
        ({"percentage": "-1"}, "percentage"),
        ({"percentage": "20.12345"}, "percentage"),
        ({"percentage": "twenty"}, "percentage"),
        ({"percentage": "NaN"}, "percentage"),
        ({"country": "XX"}, "country"),
    ],
)
def test_a_broken_rule_is_a_400_naming_the_field(
    api: Api, change: dict[str, str], field: str
) -> None:
    response = api.post("/tax-rates", VAT | change)

    assert response.status_code == 400
    assert fields(response) == [field]
    assert not TaxRate.objects.exists()


def test_a_taken_code_is_refused_ignoring_case(api: Api) -> None:
    api.post("/tax-rates", VAT)

    response = api.post("/tax-rates", VAT | {"code": "UK-VAT"})

    assert response.status_code == 400
    assert errors(response) == [("code", "A tax rate with the code “UK-VAT” already exists.")]


def test_rates_are_listed_by_code_and_fetched_by_id(api: Api) -> None:
    vat = vat_rate()
    tax_rate_create(code="au-gst", name="GST", percentage="10", country="AU")

    listed = api.get("/tax-rates").json()
    fetched = api.get(f"/tax-rates/{vat.pk}")

    assert [(r["code"], r["percentage"]) for r in listed] == [("au-gst", "10"), ("uk-vat", "20")]
    assert fetched.json()["name"] == "VAT"
    assert api.get("/tax-rates/999999").status_code == 404


def test_archiving_stops_the_rate_and_is_idempotent(api: Api, now: datetime) -> None:
    vat = vat_rate()

    first = api.post(f"/tax-rates/{vat.pk}/archive")
    again = api.post(f"/tax-rates/{vat.pk}/archive")

    assert first.status_code == again.status_code == 200
    assert first.json()["archived_at"] == again.json()["archived_at"] == "2025-03-15T12:00:00Z"
    assert api.post("/tax-rates/999999/archive").status_code == 404


# A plan's tax rates


def test_a_plan_is_given_tax_rates_by_code(api: Api, guide: Guide) -> None:
    vat_rate()
    tax_rate_create(code="au-gst", name="GST", percentage="10", country="AU")

    response = put(api, f"/plans/{guide.plan.pk}/tax-rates", {"tax_rates": ["uk-vat", "au-gst"]})

    assert response.status_code == 200
    assert response.json()["tax_rates"] == ["au-gst", "uk-vat"]
    assert api.get(f"/plans/{guide.plan.pk}").json()["tax_rates"] == ["au-gst", "uk-vat"]
    cleared = put(api, f"/plans/{guide.plan.pk}/tax-rates", {"tax_rates": []})
    assert cleared.json()["tax_rates"] == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"tax_rates": ["uk-vat", "nope"]}, "no tax rate 'nope'"),
        ({"tax_rates": [1]}, 'must be a list of tax rate codes, like ["uk-vat"]'),
        (
            {"tax_rates": ["uk-vat", "inclusive"]},
            "A plan's tax rates are all tax-inclusive or all tax-exclusive, so its prices "
            "mean one thing.",
        ),
    ],
)
def test_a_bad_set_of_tax_rates_is_a_400_on_tax_rates(
    api: Api, guide: Guide, body: object, reason: str
) -> None:
    vat_rate()
    tax_rate_create(code="inclusive", name="VAT", percentage="20", inclusive=True)

    response = put(api, f"/plans/{guide.plan.pk}/tax-rates", body)

    assert response.status_code == 400
    assert errors(response) == [("tax_rates", reason)]
    assert list(guide.plan.tax_rates.all()) == []


def test_tax_rates_that_are_not_a_list_are_the_wrong_type(api: Api, guide: Guide) -> None:
    response = put(api, f"/plans/{guide.plan.pk}/tax-rates", {"tax_rates": "uk-vat"})

    assert response.status_code == 422
    assert fields(response) == ["tax_rates"]


def test_an_unknown_plan_is_a_404(api: Api, db: None) -> None:
    assert put(api, "/plans/999999/tax-rates", {"tax_rates": []}).status_code == 404


def test_a_read_key_lists_tax_rates_but_cannot_change_them(api: Api, guide: Guide) -> None:
    vat = vat_rate()
    _, raw = api_key_create(name="reader", scope=ApiKey.Scope.READ)
    reader = Api(raw)

    assert reader.get("/tax-rates").status_code == 200
    assert reader.get(f"/tax-rates/{vat.pk}").status_code == 200
    assert reader.post("/tax-rates", VAT | {"code": "other"}).status_code == 403
    assert reader.post(f"/tax-rates/{vat.pk}/archive").status_code == 403
    refused = put(reader, f"/plans/{guide.plan.pk}/tax-rates", {"tax_rates": ["uk-vat"]})
    assert refused.status_code == 403
    assert TaxRate.objects.get().archived_at is None
    assert list(guide.plan.tax_rates.all()) == []
