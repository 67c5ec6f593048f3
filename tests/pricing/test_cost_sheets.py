"""Provider price sheets (pricing.cost_sheets): read from JSON and CSV by
the plan file's rules, every problem listed with its place, and back."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pricing.cost_sheets import (
    NotTabular,
    read_sheet_csv,
    read_sheet_json,
    sheet_to_csv,
    sheet_to_dict,
)
from pricing.schema import Problems

METERS = {"llm-tokens": ["model", "type"], "api-calls": []}

GUIDE_CSV = """meter,model,type,unit_price
llm-tokens,model a,input,0.000003
llm-tokens,model a,output,0.000015
llm-tokens,model b,input,0.0000005
api-calls,,,0.0001
"""


def problems_of(call: object) -> list[str]:
    with pytest.raises(Problems) as caught:
        call()  # type: ignore[operator]
    return [str(p) for p in caught.value.problems]


def test_csv_rows_of_a_meter_become_one_matrix_rate_over_its_dimensions() -> None:
    sheet = read_sheet_csv(GUIDE_CSV, METERS)
    tokens, calls = sheet.rates
    assert tokens.model == "dimensions"
    assert tokens.dimensions == ("model", "type")
    assert [(v, p.unit_price) for v, p in tokens.cells] == [
        (("model a", "input"), Decimal("0.000003")),
        (("model a", "output"), Decimal("0.000015")),
        (("model b", "input"), Decimal("0.0000005")),
    ]
    assert calls.model == "per_unit"
    assert calls.cells[0][1].unit_price == Decimal("0.0001")


def test_csv_lists_every_problem_with_its_row_and_field() -> None:
    text = (
        "meter,model,colour,unit_price\n"
        "llm-tokens,model a,,abc\n"  # 2: bad price
        "nope,,,1\n"  # 3: unknown meter
        "llm-tokens,,red,1\n"  # 4: not a dimension of the meter
        "llm-tokens,model a,,2\n"  # 5: same cell again
        "api-calls,,,1\n"
        "api-calls,,,2\n"  # 7: second price for a per-unit meter
        "api-calls,1\n"  # 8: short row
    )
    found = problems_of(lambda: read_sheet_csv(text, METERS))
    assert any(p.startswith("row 2.unit_price") and "not a number" in p for p in found)
    assert any(p.startswith("row 3.meter") and "unknown meter" in p for p in found)
    assert any(p.startswith("row 4") and "no dimension colour" in p for p in found)
    assert any(p.startswith("row 5.values") and "already priced" in p for p in found)
    assert any(p.startswith("row 7") and "already has a price in row 6" in p for p in found)
    assert any(p.startswith("row 8") and "cells" in p for p in found)


def test_csv_needs_the_meter_and_unit_price_header() -> None:
    assert problems_of(lambda: read_sheet_csv("model,price\nx,1\n", METERS))[0].startswith("row 1")
    assert "empty" in problems_of(lambda: read_sheet_csv("\n", METERS))[0]


def test_json_sheet_takes_any_rate_model_and_its_effective_from() -> None:
    raw = {
        "schema": "tally.cost-sheet/1",
        "currency": "USD",
        "effective_from": "2025-03-20T00:00:00Z",
        "rates": [
            {
                "meter": "api-calls",
                "model": "graduated",
                "price": {
                    "tiers": [
                        {"up_to": "1000", "unit_price": "0.001"},
                        {"up_to": None, "unit_price": "0.0005"},
                    ]
                },
            }
        ],
    }
    sheet = read_sheet_json(raw, METERS)
    assert sheet.currency == "USD"
    assert (
        sheet.effective_from is not None
        and sheet.effective_from.isoformat() == "2025-03-20T00:00:00+00:00"
    )
    assert len(sheet.rates[0].cells[0][1].tiers) == 2


def test_json_lists_every_problem() -> None:
    raw = {
        "schema": "tally.plan/1",
        "currency": "XXX",
        "effective_from": "next tuesday",
        "rates": [
            {"meter": "nope"},
            {"meter": "api-calls", "price": {"unit_price": "-1"}},
            {"meter": "api-calls", "price": {"unit_price": "1"}},
            {"meter": "api-calls", "price": {"unit_price": "2"}},
        ],
    }
    found = problems_of(lambda: read_sheet_json(raw, METERS))
    assert any(p.startswith("schema") for p in found)
    assert any(p.startswith("currency") for p in found)
    assert any(p.startswith("effective_from") for p in found)
    assert any(p.startswith("rates[0].meter") for p in found)
    assert any(p.startswith("rates[1].price.unit_price") and "negative" in p for p in found)
    assert any(p.startswith("rates[3].meter") and "already has a rate" in p for p in found)


def test_json_sheet_must_be_an_object_with_rates() -> None:
    assert problems_of(lambda: read_sheet_json([], METERS)) == [
        "a price sheet must be a JSON object"
    ]
    found = problems_of(
        lambda: read_sheet_json({"schema": "tally.cost-sheet/1", "currency": "USD"}, METERS)
    )
    assert found == ["rates: must be a list of at least one rate"]


def test_round_trip_through_json_and_csv() -> None:
    rates = read_sheet_csv(GUIDE_CSV, METERS).rates
    assert read_sheet_json(sheet_to_dict("USD", rates), METERS).rates == rates
    assert read_sheet_csv(sheet_to_csv(rates), METERS).rates == rates
    assert sheet_to_csv(rates) == GUIDE_CSV


def test_tiered_rates_export_only_as_json() -> None:
    raw = {
        "schema": "tally.cost-sheet/1",
        "currency": "USD",
        "rates": [
            {
                "meter": "api-calls",
                "model": "package",
                "price": {"package_size": "100", "package_price": "1"},
            }
        ],
    }
    rates = read_sheet_json(raw, METERS).rates
    with pytest.raises(NotTabular, match="api-calls"):
        sheet_to_csv(rates)
