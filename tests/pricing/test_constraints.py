"""The database refuses prices that would make an invoice ambiguous or wrong,
even when a write skips the forms and services."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from meters.naming import dimension_key
from pricing.models import PriceCell, Rate
from tests.factories import MeterFactory, PlanFactory

pytestmark = pytest.mark.django_db

A_INPUT = dimension_key({"model": "model a", "type": "input"})


@pytest.fixture
def token_rate() -> Rate:
    meter = MeterFactory.create(
        label="LLM tokens", api_name="llm-tokens", dimensions=["model", "type"]
    )
    plan = PlanFactory.create(name="Chatbot Usage Plan")
    return Rate.objects.create(
        plan=plan,
        version=plan.current_version,
        meter=meter,
        rate_model=Rate.RateModel.DIMENSIONS,
        dimensions=["model", "type"],
    )


def cell(rate: Rate, price: str, values: tuple[str, str] = ("model a", "input")) -> PriceCell:
    return PriceCell.objects.create(
        rate=rate,
        dimension_values=list(values),
        dimension_key=dimension_key(dict(zip(["model", "type"], values, strict=True))),
        unit_price=Decimal(price),
    )


def test_a_combination_cannot_have_two_prices(token_rate: Rate) -> None:
    cell(token_rate, "0.00001")

    with pytest.raises(IntegrityError), transaction.atomic():
        cell(token_rate, "0.00002")

    assert [c.unit_price for c in token_rate.cells.all()] == [Decimal("0.00001")]


def test_different_combinations_each_keep_their_price(token_rate: Rate) -> None:
    cell(token_rate, "0.00001", ("model a", "input"))
    cell(token_rate, "0.00002", ("model a", "output"))

    prices = {tuple(c.dimension_values): c.unit_price for c in token_rate.cells.all()}
    assert prices == {
        ("model a", "input"): Decimal("0.00001"),
        ("model a", "output"): Decimal("0.00002"),
    }


def test_a_negative_unit_price_is_refused(token_rate: Rate) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        cell(token_rate, "-0.00001")

    assert not token_rate.cells.exists()


def test_a_free_combination_is_allowed(token_rate: Rate) -> None:
    cell(token_rate, "0")

    assert token_rate.cells.get().unit_price == Decimal("0")


def test_a_meter_cannot_have_two_rates_on_one_plan(token_rate: Rate) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Rate.objects.create(
            plan=token_rate.plan, version=token_rate.version, meter=token_rate.meter
        )

    assert token_rate.version.rates.count() == 1


def test_the_same_meter_may_be_priced_on_two_plans(token_rate: Rate) -> None:
    other = PlanFactory.create(name="Enterprise")
    Rate.objects.create(plan=other, version=other.current_version, meter=token_rate.meter)

    assert token_rate.meter.rates.count() == 2
