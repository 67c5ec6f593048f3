"""Cost on real invoices (invoices/margins.py): the default cost plan, a
customer's own, none at all; a provider's price change inside the period;
finalization stores each line's cost as it was, which later price changes
never touch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from time_machine import TimeMachineFixture

from customers.services import customer_cost_plan_set, plan_assign
from invoices.builder import build_invoice, current_period
from invoices.closing import close_periods
from invoices.margins import with_costs
from invoices.models import Invoice
from meters.services import events_ingest
from pricing.cost_sheets import read_sheet_csv
from pricing.cost_views import cost_sheet_apply
from pricing.models import Plan
from pricing.plan_files import known_meters
from pricing.price_models import CellPrice
from pricing.schema import RateDraft
from pricing.selectors import version_rates
from pricing.services import cost_plan_make_default, plan_create, rate_create, rate_replace
from tests.factories import Guide, guide_records

MARCH = datetime(2025, 3, 1, tzinfo=UTC)
APRIL = datetime(2025, 4, 1, tzinfo=UTC)
MID_MARCH = datetime(2025, 3, 15, 12, tzinfo=UTC)
# What serving the guide's usage costs us (docs/PRICING.md, "Cost and margin").
TOKEN_COSTS = [
    (["model a", "input"], Decimal("0.000003")),
    (["model a", "output"], Decimal("0.000015")),
    (["model b", "input"], Decimal("0.000001")),
    (["model b", "output"], Decimal("0.000004")),
]
CALL_COST = Decimal("0.0005")


def cost_plan(guide: Guide, name: str = "Provider costs", **changed: Decimal) -> Plan:
    plan = plan_create(name=name, billing_period="monthly", currency="USD", kind="cost")
    rate_create(plan=plan, meter=guide.api_calls, unit_price=changed.get("calls", CALL_COST))
    rate_create(plan=plan, meter=guide.llm_tokens, dimensions=["model", "type"], matrix=TOKEN_COSTS)
    return plan


def stored_costs(invoice: Invoice) -> list[tuple[str, Decimal, Decimal | None, Decimal | None]]:
    return [
        (line.description, line.amount, line.cost, line.cost_unknown_quantity)
        for line in invoice.lines.order_by("position")
    ]


def issue(guide: Guide) -> Invoice:
    close_periods(now=APRIL + timedelta(hours=25))
    return Invoice.objects.get(assignment=guide.assignment, period_start=MARCH)


def test_finalization_stores_each_lines_cost_by_the_default_cost_plan(guide: Guide) -> None:
    cost_plan_make_default(plan=cost_plan(guide))
    assert stored_costs(issue(guide)) == [
        ("API calls", Decimal("0.10"), Decimal("0.01"), None),  # 10 × 0.0005 = 0.005 → 0.01
        ("LLM tokens · model a · input", Decimal("0.01"), Decimal("0.00"), None),
        ("LLM tokens · model a · output", Decimal("0.02"), Decimal("0.02"), None),
        ("LLM tokens · model b · input", Decimal("0.01"), Decimal("0.00"), None),
    ]


def test_a_customer_with_their_own_cost_plan_is_costed_by_it(guide: Guide) -> None:
    cost_plan_make_default(plan=cost_plan(guide))
    dedicated = cost_plan(guide, "Dedicated deployment", calls=Decimal("0.002"))
    customer_cost_plan_set(customer=guide.customer, plan=dedicated)
    assert stored_costs(issue(guide))[0][2] == Decimal("0.02")  # 10 × 0.002


def test_without_a_cost_plan_no_cost_is_known_never_zero(guide: Guide) -> None:
    costs = stored_costs(issue(guide))
    assert [(cost, unknown) for _, _, cost, unknown in costs] == [
        (Decimal("0"), Decimal("10")),
        (Decimal("0"), Decimal("1000")),
        (Decimal("0"), Decimal("1000")),
        (Decimal("0"), Decimal("1000")),
    ]


def test_a_provider_price_change_mid_period_costs_each_stretch_by_its_price(
    guide: Guide, time_machine: TimeMachineFixture
) -> None:
    plan = cost_plan(guide)
    cost_plan_make_default(plan=plan)
    # From 20 March the provider charges $0.000030 per model a output token.
    changed = tuple(
        (tuple(values), CellPrice(Decimal("0.00003") if values == ["model a", "output"] else p))
        for values, p in TOKEN_COSTS
    )
    twentieth = datetime(2025, 3, 20, tzinfo=UTC)
    rate_replace(
        plan=plan,
        meter=guide.llm_tokens,
        draft=RateDraft("llm-tokens", "dimensions", ("model", "type"), changed),
        now=twentieth,
    )
    assert plan.current_version.number == 2
    # Another 1,000 output tokens of model a on 25 March.
    later = datetime(2025, 3, 25, tzinfo=UTC)
    records = [
        {**r, "uniqueId": f"{r['uniqueId']}-late-march"}
        for r in guide_records(later)
        if r.get("dimensions") == {"model": "model a", "type": "output"}
    ]
    time_machine.move_to(later + timedelta(hours=1), tick=False)
    assert events_ingest(records=records, now=later + timedelta(hours=1)).accepted == 1
    # 1,000 at 0.000015 before + 1,000 at 0.00003 after = 0.045, rounded once.
    output = stored_costs(issue(guide))[2]
    assert output == ("LLM tokens · model a · output", Decimal("0.04"), Decimal("0.05"), None)


def test_issued_costs_stay_as_they_were_while_drafts_follow_the_cost_plan(
    guide: Guide, time_machine: TimeMachineFixture
) -> None:
    plan = cost_plan(guide)
    cost_plan_make_default(plan=plan)
    march = issue(guide)
    dedicated = cost_plan(guide, "Dearer", calls=Decimal("0.005"))
    customer_cost_plan_set(customer=guide.customer, plan=dedicated)
    march.refresh_from_db()
    assert stored_costs(march)[0][2] == Decimal("0.01")
    # The computed invoice of the current period is costed by the new plan.
    time_machine.move_to(datetime(2025, 4, 10, tzinfo=UTC), tick=False)
    events_ingest(
        records=[
            {**r, "uniqueId": f"{r['uniqueId']}-april"}
            for r in guide_records(datetime(2025, 4, 9, tzinfo=UTC))
        ],
        now=datetime(2025, 4, 10, tzinfo=UTC),
    )
    ref = current_period(guide.customer, datetime(2025, 4, 10, tzinfo=UTC))
    assert ref is not None
    content = with_costs(build_invoice(guide.customer, ref))
    assert content.sections[0].costs[0] is not None
    assert content.sections[0].costs[0].cost == Decimal("0.05")  # 10 × 0.005


def test_a_cost_plan_cannot_be_assigned_to_a_customer(guide: Guide) -> None:
    with pytest.raises(ValidationError, match="is a cost plan"):
        plan_assign(customer=guide.customer, plan=cost_plan(guide), start_at=APRIL)


def test_a_price_sheet_for_several_meters_is_one_new_cost_version(guide: Guide) -> None:
    plan = cost_plan(guide)
    cost_plan_make_default(plan=plan)  # in use: changes keep their history
    sheet = read_sheet_csv(
        "meter,model,type,unit_price\n"
        "api-calls,,,0.001\n"
        "llm-tokens,model a,input,0.000004\n"
        "llm-tokens,model a,output,0.00002\n",
        known_meters(),
    )
    twentieth = datetime(2025, 3, 20, tzinfo=UTC)
    cost_sheet_apply(plan=plan, sheet=sheet, now=twentieth)
    plan.refresh_from_db()
    assert plan.current_version.number == 2
    assert (plan.current_version.starts, plan.current_version.effective_at) == (
        "from_instant",
        twentieth,
    )
    rates = {rate.meter.api_name: rate for rate in version_rates(plan.current_version_id)}
    assert sorted(rates) == ["api-calls", "llm-tokens"]
    assert rates["llm-tokens"].cells.count() == 2  # the sheet's, replacing the four
