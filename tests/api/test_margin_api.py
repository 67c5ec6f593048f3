"""GET /margins: the margin report as JSON (invoices/margin_rest.py): rows
and totals, money as strings, "no cost known" apart; only `full` keys."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from invoices.closing import close_periods
from meters.api_keys import api_key_create
from meters.models import ApiKey
from pricing.services import cost_plan_make_default, plan_create, rate_create
from tests.api.conftest import Api, fields
from tests.factories import Guide


@pytest.fixture
def issued(guide: Guide) -> Guide:
    """The guide's March invoice issued, its API calls costed at $0.02 each
    (more than they earn) and its tokens with no cost known."""
    plan = plan_create(name="Provider costs", billing_period="monthly", currency="USD", kind="cost")
    rate_create(plan=plan, meter=guide.api_calls, unit_price=Decimal("0.02"))
    cost_plan_make_default(plan=plan)
    close_periods(now=datetime(2025, 4, 2, 1, tzinfo=UTC))
    return guide


def test_grouped_by_meter_with_money_as_strings(api: Api, issued: Guide) -> None:
    response = api.get("/margins", group_by="meter")

    assert response.status_code == 200
    body = response.json()
    rows = {row["key"]: row for row in body["rows"]}
    calls = rows["API calls"]
    assert (calls["revenue"], calls["cost"], calls["margin"], calls["margin_percent"]) == (
        "0.10",
        "0.20",
        "-0.10",
        "-100.0",
    )
    tokens = rows["LLM tokens"]
    assert (tokens["lines"], tokens["unknown_lines"], tokens["margin_percent"]) == (0, 3, None)
    [total] = body["totals"]
    assert (total["revenue"], total["cost"], total["unknown_lines"]) == ("0.10", "0.20", 3)


def test_grouped_by_month_and_dimension(api: Api, issued: Guide) -> None:
    months = api.get("/margins", group_by="month").json()
    models = api.get("/margins", group_by="dimension", dimension="model").json()

    assert [row["label"] for row in months["rows"]] == ["2025-03"]
    assert models["dimension"] == "model"
    assert [row["label"] for row in models["rows"]] == ["(none)", "model a", "model b"]


def test_filters_by_customer_and_months(api: Api, issued: Guide) -> None:
    customer = issued.customer.customer_id

    assert len(api.get("/margins", customer=customer).json()["rows"]) == 1
    assert api.get("/margins", customer="nobody").json()["rows"] == []
    assert api.get("/margins", **{"from": "2025-04"}).json()["rows"] == []
    assert len(api.get("/margins", **{"from": "2025-03", "to": "2025-03"}).json()["rows"]) == 1


def test_bad_parameters_are_a_400_naming_the_field(api: Api, issued: Guide) -> None:
    response = api.get("/margins", group_by="planet", **{"from": "2025-13", "to": "soon"})

    assert response.status_code == 400
    assert sorted(fields(response)) == ["from", "group_by", "to"]
    backwards = api.get("/margins", **{"from": "2025-04", "to": "2025-03"})
    assert (backwards.status_code, fields(backwards)) == (400, ["to"])


def test_a_read_key_gets_403(issued: Guide) -> None:
    _, raw = api_key_create(name="reader", scope=ApiKey.Scope.READ)

    assert Api(raw).get("/margins").status_code == 403
