"""Plans that change without rewriting history: a customer's months through
price changes made from the current period or the next, with the clock moved
(time-machine) and invoices issued by period close."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from time_machine import TimeMachineFixture

from invoices.closing import close_periods
from invoices.models import Invoice
from invoices.selectors import draft_content
from meters.services import events_ingest
from pricing.models import PlanVersion, Rate
from pricing.price_models import CellPrice
from pricing.schema import RateDraft
from pricing.selectors import plan_rates
from pricing.services import plan_in_use, rate_delete, rate_replace, rate_save
from pricing.versions import VersionStart
from tests.factories import Guide, guide_records, guide_setup

MARCH = datetime(2025, 3, 1, tzinfo=UTC)
APRIL = datetime(2025, 4, 1, tzinfo=UTC)
MAY = datetime(2025, 5, 1, tzinfo=UTC)
MID_MARCH = datetime(2025, 3, 15, 12, tzinfo=UTC)
MID_APRIL = datetime(2025, 4, 15, 12, tzinfo=UTC)
AFTER_MARCH_GRACE = APRIL + timedelta(hours=25)
AFTER_APRIL_GRACE = MAY + timedelta(hours=25)
# The guide's usage: 10 API calls at $0.01 and three token lines ($0.01,
# $0.02, $0.005 rounded to $0.01), $0.14 in all.
GUIDE_TOTAL = Decimal("0.14")
AT_TWO_CENTS = Decimal("0.24")  # the same usage with API calls at $0.02


@pytest.fixture
def guide(db: None, time_machine: TimeMachineFixture) -> Guide:
    time_machine.move_to(MID_MARCH, tick=False)
    return guide_setup(MID_MARCH)


def per_unit(guide: Guide, price: str) -> RateDraft:
    return RateDraft(guide.api_calls.api_name, "per_unit", (), (((), CellPrice(Decimal(price))),))


def api_calls_at(guide: Guide, price: str, starts: VersionStart) -> PlanVersion:
    rate_replace(
        plan=guide.plan, meter=guide.api_calls, draft=per_unit(guide, price), starts=starts
    )
    return guide.plan.versions.get(pk=guide.plan.current_version_id)


def issued(guide: Guide, start: datetime) -> Invoice:
    return Invoice.objects.get(assignment=guide.assignment, period_start=start)


def april_usage(guide: Guide) -> None:
    records = [dict(r, uniqueId=f"april-{n}") for n, r in enumerate(guide_records(MID_APRIL))]
    assert events_ingest(records=records, now=MID_APRIL).accepted == 4


def test_a_change_from_the_next_period_leaves_this_month_and_prices_the_next(
    guide: Guide, time_machine: TimeMachineFixture
) -> None:
    version = api_calls_at(guide, "0.02", VersionStart.NEXT_PERIOD)
    close_periods(now=MID_MARCH)

    assert (version.number, version.starts) == (2, "next_period")
    assert version.change == "API calls: rate changed"
    assert draft_content(issued(guide, MARCH), MID_MARCH).total == GUIDE_TOTAL

    time_machine.move_to(MID_APRIL, tick=False)
    april_usage(guide)
    close_periods(now=AFTER_APRIL_GRACE)

    march, april = issued(guide, MARCH), issued(guide, APRIL)
    assert (march.total, march.plan_version) == (GUIDE_TOTAL, 1)
    assert (april.total, april.plan_version) == (AT_TWO_CENTS, 2)
    assert april.lines.get(meter=guide.api_calls).unit_price == Decimal("0.02")


def test_a_change_from_the_current_period_re_rates_the_open_draft(guide: Guide) -> None:
    close_periods(now=MID_MARCH)
    draft = issued(guide, MARCH)
    assert draft_content(draft, MID_MARCH).total == GUIDE_TOTAL

    api_calls_at(guide, "0.02", VersionStart.CURRENT_PERIOD)

    assert draft_content(draft, MID_MARCH).total == AT_TWO_CENTS
    close_periods(now=AFTER_MARCH_GRACE)
    march = issued(guide, MARCH)
    assert (march.status, march.total, march.plan_version) == ("open", AT_TWO_CENTS, 2)


def test_an_issued_invoice_never_changes_and_the_next_draft_does(
    guide: Guide, time_machine: TimeMachineFixture
) -> None:
    close_periods(now=AFTER_MARCH_GRACE)
    march = issued(guide, MARCH)
    lines = list(march.lines.values_list("description", "unit_price", "amount"))
    time_machine.move_to(MID_APRIL, tick=False)
    april_usage(guide)

    api_calls_at(guide, "0.02", VersionStart.CURRENT_PERIOD)
    rate_delete(rate=plan_rates(guide.plan).get(meter=guide.llm_tokens), starts="current_period")

    march.refresh_from_db()
    assert (march.total, march.plan_version) == (GUIDE_TOTAL, 1)
    assert list(march.lines.values_list("description", "unit_price", "amount")) == lines
    april = draft_content(issued(guide, APRIL), MID_APRIL)
    assert april.total == Decimal("0.20")  # API calls only, at $0.02
    assert april.plan_version == 3


def test_a_draft_in_its_grace_period_keeps_the_prices_of_its_period(
    guide: Guide, time_machine: TimeMachineFixture
) -> None:
    """March has ended and waits for late usage: a change made now "from the
    current period" is April's, not March's."""
    close_periods(now=MID_MARCH)
    time_machine.move_to(APRIL + timedelta(hours=2), tick=False)

    api_calls_at(guide, "0.02", VersionStart.CURRENT_PERIOD)
    close_periods(now=AFTER_MARCH_GRACE)

    assert (issued(guide, MARCH).total, issued(guide, MARCH).plan_version) == (GUIDE_TOTAL, 1)


def test_late_usage_is_priced_by_the_version_of_its_own_period(
    guide: Guide, time_machine: TimeMachineFixture
) -> None:
    close_periods(now=AFTER_MARCH_GRACE)
    time_machine.move_to(MID_APRIL, tick=False)
    api_calls_at(guide, "0.02", VersionStart.CURRENT_PERIOD)
    late = {
        "meterApiName": "api-calls",
        "meterValue": 10,
        "customerId": guide.customer.customer_id,
        "meterTimeInMillis": int((MARCH + timedelta(days=20)).timestamp() * 1000),
        "uniqueId": "late-march",
    }
    assert events_ingest(records=[late], now=MID_APRIL).accepted == 1

    close_periods(now=AFTER_APRIL_GRACE)

    line = issued(guide, APRIL).lines.get(kind="late_usage")
    assert (line.quantity, line.unit_price, line.amount) == (10, Decimal("0.01"), Decimal("0.10"))


def test_a_rate_added_from_the_next_period_is_not_on_this_months_bill(guide: Guide) -> None:
    rate_delete(rate=guide.token_rate, starts="current_period")
    close_periods(now=MID_MARCH)
    assert draft_content(issued(guide, MARCH), MID_MARCH).total == Decimal("0.10")

    token_prices = RateDraft(
        guide.llm_tokens.api_name,
        "dimensions",
        ("model",),
        ((("model a",), CellPrice(Decimal("0.001"))),),
    )
    rate_save(plan=guide.plan, meter=guide.llm_tokens, draft=token_prices, starts="next_period")

    content = draft_content(issued(guide, MARCH), MID_MARCH)
    assert content.total == Decimal("0.10")
    assert [u.meter_label for u in content.unpriced] == ["LLM tokens"] * 3
    assert list(guide.plan.versions.values_list("number", "change")) == [
        (1, ""),
        (2, "LLM tokens: rate removed"),
        (3, "LLM tokens: rate added"),
    ]


def test_each_version_is_a_whole_copy_of_the_prices(guide: Guide) -> None:
    api_calls_at(guide, "0.02", VersionStart.NEXT_PERIOD)

    first, second = guide.plan.versions.order_by("number")
    assert Rate.objects.filter(version=first).count() == 2
    copied = Rate.objects.get(version=second, meter=guide.llm_tokens)
    original = Rate.objects.get(version=first, meter=guide.llm_tokens)
    assert copied.pk != original.pk
    assert list(copied.cells.order_by("pk").values_list("dimension_key", "unit_price")) == list(
        original.cells.order_by("pk").values_list("dimension_key", "unit_price")
    )
    assert Rate.objects.get(version=first, meter=guide.api_calls).cells.get().unit_price == (
        Decimal("0.01")
    )


def test_a_plan_that_bills_no_one_changes_in_place(db: None) -> None:
    guide = guide_setup(MID_MARCH, events=False)
    guide.assignment.delete()
    assert not plan_in_use(guide.plan)

    rate_replace(plan=guide.plan, meter=guide.api_calls, draft=per_unit(guide, "0.02"))

    assert guide.plan.versions.count() == 1
    assert plan_rates(guide.plan).get(meter=guide.api_calls).cells.get().unit_price == Decimal(
        "0.02"
    )


@pytest.mark.parametrize("starts", ["always", "tomorrow", "CURRENT_PERIOD"])
def test_a_change_must_say_current_or_next_period(guide: Guide, starts: str) -> None:
    with pytest.raises(ValidationError) as refused:
        api_calls_at(guide, "0.02", starts)  # type: ignore[arg-type]

    assert refused.value.message_dict == {
        "starts": ["Choose when the change takes effect: “next_period”, “current_period”."]
    }
    assert guide.plan.versions.count() == 1


def test_only_the_current_prices_can_change(guide: Guide) -> None:
    api_calls_at(guide, "0.02", VersionStart.NEXT_PERIOD)
    old = Rate.objects.get(version__number=1, meter=guide.llm_tokens)

    with pytest.raises(ValidationError, match="history"):
        rate_delete(rate=old)
    with pytest.raises(ValidationError) as refused:
        rate_save(plan=guide.plan, meter=guide.api_calls, draft=per_unit(guide, "1"))
    assert refused.value.message_dict == {
        "meter": ["API calls is already priced on Chatbot Usage Plan."]
    }
    assert guide.plan.versions.count() == 2
