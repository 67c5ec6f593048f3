"""The invoice steps over the native API, following the guide: a $500 setup
fee and a $50 invoice minimum, VAT at 20% for a customer in GB and a 10%
coupon, all set through the API; the computed invoice, the draft and the
issued invoice show the same steps to the cent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from time_machine import TimeMachineFixture

from invoices.closing import close_periods
from invoices.models import Invoice
from tests.api.conftest import BASE, Api, errors
from tests.factories import Guide

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db

MARCH = datetime(2025, 3, 1, tzinfo=UTC)
APRIL = datetime(2025, 4, 1, tzinfo=UTC)

# The guide's March invoice with every step (tests/invoices/test_invoice_steps_wired.py
# works the sums out line by line).
MARCH_STEPS = {
    "charges": "0.14",
    "one_time_fees": [{"description": "Setup fee", "amount": "500.00"}],
    "discounts": [{"description": "Welcome offer (WELCOME10)", "amount": "50.01"}],
    "minimum_true_up": "49.87",
    "commitment_drawn": "0.00",
    "subtotal": "500.00",
    "taxes": [
        {
            "name": "VAT",
            "percentage": "20",
            "jurisdiction": "GB",
            "inclusive": False,
            "base": "500.00",
            "tax": "99.99",
        }
    ],
    "tax_added": "99.99",
    "tax_included": "0.00",
    "total": "599.99",
}


VAT = {"code": "uk-vat", "name": "VAT", "percentage": "20", "country": "GB"}


def send(api: Api, method: str, path: str, body: object) -> Response:
    call = getattr(api.client, method)
    response: Response = call(BASE + path, json.dumps(body), content_type="application/json")
    return response


def every_step(api: Api, guide: Guide) -> Response:
    """The guide's plan with every step, through the API; the charges' answer."""
    plan, customer = guide.plan.pk, guide.customer.pk
    charges = send(
        api,
        "put",
        f"/plans/{plan}/charges",
        {
            "invoice_minimum": "50.00",
            "one_time_fees": [{"description": "Setup fee", "amount": "500.00"}],
            "starts": "current_period",
        },
    )
    assert api.post("/tax-rates", VAT).status_code == 201
    assert (
        send(api, "put", f"/plans/{plan}/tax-rates", {"tax_rates": ["uk-vat"]}).status_code == 200
    )
    assert send(api, "patch", f"/customers/{customer}", {"country": "GB"}).status_code == 200
    welcome = {"code": "WELCOME10", "name": "Welcome offer", "kind": "percentage", "value": "10"}
    assert api.post("/coupons", welcome).status_code == 201
    assert api.post(f"/customers/{customer}/coupons", {"coupon": "WELCOME10"}).status_code == 201
    return charges


def issue(guide: Guide, time_machine: TimeMachineFixture) -> Invoice:
    after_grace = APRIL + timedelta(hours=25)
    time_machine.move_to(after_grace, tick=False)
    close_periods(now=after_grace)
    return Invoice.objects.get(assignment=guide.assignment, period_start=MARCH)


def test_the_plan_answers_its_charges_and_taxes(api: Api, guide: Guide) -> None:
    charges = every_step(api, guide)

    assert charges.status_code == 200
    # The plan bills the guide's customer: the change made version 2.
    assert charges["Plan-Version"] == "2"
    plan = api.get(f"/plans/{guide.plan.pk}").json()
    assert plan["version"] == 2
    assert plan["invoice_minimum"] == "50.00"
    assert plan["one_time_fees"] == [{"description": "Setup fee", "amount": "500.00"}]
    assert plan["tax_rates"] == ["uk-vat"]


def test_the_computed_invoice_shows_every_step(api: Api, guide: Guide) -> None:
    every_step(api, guide)

    invoice = api.get(f"/customers/{guide.customer.pk}/invoices/current").json()

    assert invoice["total"] == "0.14"  # the lines; the steps take it from there
    assert invoice["steps"] == MARCH_STEPS


def test_the_issued_invoice_keeps_its_steps_to_the_cent(
    api: Api, guide: Guide, time_machine: TimeMachineFixture
) -> None:
    every_step(api, guide)
    march = issue(guide, time_machine)

    answer = api.get(f"/invoices/{march.pk}").json()

    assert answer["status"] == "open"
    assert (answer["total"], answer["amount_due"]) == ("599.99", "599.99")
    assert answer["steps"] == MARCH_STEPS
    assert answer["usage_to_date"] is None
    # The coupon was once: it has now discounted its one invoice.
    [given] = api.get(f"/customers/{guide.customer.pk}/coupons").json()
    assert given["invoices_discounted"] == 1


def test_a_draft_shows_its_steps_as_they_stand(
    api: Api, guide: Guide, time_machine: TimeMachineFixture
) -> None:
    every_step(api, guide)
    time_machine.move_to(APRIL + timedelta(hours=1), tick=False)
    close_periods(now=APRIL + timedelta(hours=1))  # drafts March; grace not over
    draft = Invoice.objects.get(assignment=guide.assignment, period_start=MARCH)

    answer = api.get(f"/invoices/{draft.pk}").json()

    assert answer["status"] == "draft"
    assert answer["steps"] is None  # nothing is issued yet
    assert answer["usage_to_date"]["steps"] == MARCH_STEPS


def test_an_invoice_without_steps_answers_null(
    api: Api, guide: Guide, time_machine: TimeMachineFixture
) -> None:
    computed = api.get(f"/customers/{guide.customer.pk}/invoices/current").json()
    march = issue(guide, time_machine)

    assert computed["steps"] is None
    assert api.get(f"/invoices/{march.pk}").json()["steps"] is None


@pytest.mark.parametrize(
    ("body", "problems"),
    [
        ({"invoice_minimum": "50.001"}, [("invoice_minimum", "USD")]),
        ({"invoice_minimum": "-1"}, [("invoice_minimum", "")]),
        (
            {"one_time_fees": [{"description": "", "amount": "0"}]},
            [("one_time_fees[0].description", ""), ("one_time_fees[0].amount", "")],
        ),
        (
            {"one_time_fees": [{"description": "Setup", "amount": "1e400"}]},
            [("one_time_fees[0].amount", "")],
        ),
        ({"starts": "yesterday"}, [("starts", "")]),
    ],
)
def test_bad_charges_are_400s_naming_the_field(
    api: Api, guide: Guide, body: dict[str, Any], problems: list[tuple[str, str]]
) -> None:
    response = send(api, "put", f"/plans/{guide.plan.pk}/charges", body)

    assert response.status_code == 400
    found = errors(response)
    assert [field for field, _ in found] == [field for field, _ in problems]
    for (_, reason), (_, part) in zip(found, problems, strict=True):
        assert part in reason
    plan = api.get(f"/plans/{guide.plan.pk}").json()
    assert (plan["version"], plan["invoice_minimum"], plan["one_time_fees"]) == (1, None, [])


def test_charges_on_a_plan_no_one_is_on_change_it_in_place(api: Api, now: datetime) -> None:
    plan = api.post("/plans", {"name": "Pro"}).json()

    response = send(api, "put", f"/plans/{plan['id']}/charges", {"invoice_minimum": "10"})

    assert response["Plan-Version"] == "1"
    assert response.json()["invoice_minimum"] == "10.00"
    cleared = send(api, "put", f"/plans/{plan['id']}/charges", {})
    assert (cleared.json()["invoice_minimum"], cleared.json()["one_time_fees"]) == (None, [])


def test_an_exported_plan_posted_as_it_is_keeps_its_charges_and_taxes(
    api: Api, guide: Guide
) -> None:
    every_step(api, guide)
    exported = api.get(f"/plans/{guide.plan.pk}").json()
    document = {k: v for k, v in exported.items() if k not in ("id", "version")}

    created = api.post("/plans", document | {"name": "Copy"})

    assert created.status_code == 201
    copy = created.json()
    assert copy | {"id": 0, "name": ""} == exported | {"id": 0, "name": "", "version": 1}


def test_a_posted_plan_with_an_unknown_tax_rate_lists_every_problem(api: Api, guide: Guide) -> None:
    body = {"name": "Taxed", "invoice_minimum": "1.001", "tax_rates": ["nope"]}

    response = api.post("/plans", body)

    assert response.status_code == 400
    assert errors(response) == [
        ("invoice_minimum", "must have at most 2 decimal places in USD"),
        ("tax_rates", "no tax rate 'nope'"),
    ]
