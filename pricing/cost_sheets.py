"""Provider price sheets: what a provider charges us, as a file
(docs/COST_SHEETS.md). Pure: no ORM and no I/O.

Two forms, read into the same `CostSheet`:
- JSON `tally.cost-sheet/1`: currency, an optional `effective_from`, and
  `rates`, each exactly a plan file's rate (pricing.schema.read_rate), so
  every rate model works and the same rules check it.
- CSV `meter,<dimension columns…>,unit_price`, one row per matrix cell. The
  rows of one meter become one rate: a matrix over the dimension columns
  its rows fill (which must be the meter's dimensions), or a per-unit rate
  when they fill none. Each rate built is then checked by read_rate, so a
  CSV sheet obeys exactly the rules a JSON one does.

Reading never stops at the first problem: `Problems` lists every one, with
where it is (`rates[1].price.unit_price`, `row 3.unit_price`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils.dateparse import parse_datetime

from pricing.money import CURRENCIES
from pricing.schema import (
    MAX_RATES,
    Problem,
    Problems,
    RateDraft,
    rate_to_dict,
    read_rate,
    shown,
)

SCHEMA = "tally.cost-sheet/1"
PRICE_COLUMN = "unit_price"
METER_COLUMN = "meter"
MAX_CSV_ROWS = 10_000


@dataclass(frozen=True)
class CostSheet:
    currency: str | None  # None: a CSV sheet, which names no currency
    effective_from: datetime | None  # None: from when it is applied
    rates: tuple[RateDraft, ...]


def _effective_from(raw: object, problems: list[Problem]) -> datetime | None:
    if raw is None or raw == "":
        return None
    parsed = parse_datetime(raw) if isinstance(raw, str) else None
    if parsed is None or parsed.tzinfo is None:
        problems.append(
            Problem(
                "effective_from",
                f"must be a date-time with its time zone, like "
                f'"2025-03-20T00:00:00Z" (got {shown(raw)})',
            )
        )
        return None
    return parsed


def _rates(
    items: Sequence[tuple[str, object]], meters: Mapping[str, Sequence[str]]
) -> tuple[list[RateDraft], list[Problem]]:
    """Each (path, rate document) checked by read_rate; one rate per meter."""
    rates: list[RateDraft] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for path, raw in items:
        draft, found = read_rate(raw, path, meters)
        problems += found
        if draft is None:
            continue
        if draft.meter in seen:
            problems.append(Problem(f"{path}.meter", f"{draft.meter} already has a rate here"))
            continue
        seen.add(draft.meter)
        rates.append(draft)
    return rates, problems


def read_sheet_json(raw: object, meters: Mapping[str, Sequence[str]]) -> CostSheet:
    """A parsed JSON sheet (numbers as Decimals), or Problems listing
    everything wrong with it. `meters`: API name → dimensions."""
    if not isinstance(raw, Mapping):
        raise Problems([Problem("", "a price sheet must be a JSON object")])
    problems: list[Problem] = []
    if raw.get("schema") != SCHEMA:
        problems.append(Problem("schema", f"must be {SCHEMA!r}"))
    currency = raw.get("currency")
    if currency not in CURRENCIES:
        problems.append(Problem("currency", f"must be one of {', '.join(CURRENCIES)}"))
    effective_from = _effective_from(raw.get("effective_from"), problems)
    rates_raw = raw.get("rates")
    rates: list[RateDraft] = []
    if not isinstance(rates_raw, list) or not rates_raw:
        problems.append(Problem("rates", "must be a list of at least one rate"))
    elif len(rates_raw) > MAX_RATES:
        problems.append(Problem("rates", f"at most {MAX_RATES} rates are allowed"))
    else:
        rates, found = _rates([(f"rates[{i}]", r) for i, r in enumerate(rates_raw)], meters)
        problems += found
    if problems:
        raise Problems(problems)
    return CostSheet(str(currency), effective_from, tuple(rates))


def read_sheet_csv(text: str, meters: Mapping[str, Sequence[str]]) -> CostSheet:
    """A CSV sheet, or Problems listing everything wrong with it. Rows are
    numbered as a spreadsheet shows them: the header is row 1."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        raise Problems([Problem("", "the sheet is empty: it needs a header row and prices")])
    header = [cell.strip() for cell in rows[0]]
    problems: list[Problem] = []
    if len(header) < 2 or header[0] != METER_COLUMN or header[-1] != PRICE_COLUMN:
        problems.append(
            Problem(
                "row 1",
                f"the header must be {METER_COLUMN},<dimension columns…>,{PRICE_COLUMN} "
                f"(got {shown(','.join(header))})",
            )
        )
        raise Problems(problems)
    columns = header[1:-1]
    if len(set(columns)) != len(columns) or "" in columns:
        raise Problems([Problem("row 1", "each dimension column needs its own, non-empty name")])
    if len(rows) - 1 > MAX_CSV_ROWS:
        raise Problems([Problem("", f"at most {MAX_CSV_ROWS:,} price rows are allowed")])
    # meter → (its dimension columns, [(row number, values, price)])
    by_meter: dict[str, tuple[tuple[str, ...], list[tuple[int, tuple[str, ...], str]]]] = {}
    for number, row in enumerate(rows[1:], start=2):
        where = f"row {number}"
        if len(row) != len(header):
            problems.append(Problem(where, f"has {len(row)} cells; the header has {len(header)}"))
            continue
        cells = [cell.strip() for cell in row]
        meter, price = cells[0], cells[-1]
        if meter not in meters:
            problems.append(Problem(f"{where}.meter", f"unknown meter {shown(meter)}"))
            continue
        filled = tuple(c for c, v in zip(columns, cells[1:-1], strict=True) if v)
        values = tuple(v for v in cells[1:-1] if v)
        undefined = [c for c in filled if c not in meters[meter]]
        if undefined:
            problems.append(
                Problem(where, f"meter {meter} has no dimension {', '.join(undefined)}")
            )
            continue
        known = by_meter.setdefault(meter, (filled, []))
        if known[0] != filled:
            expected = ", ".join(known[0]) or "none"
            problems.append(
                Problem(
                    where,
                    f"fills dimensions {', '.join(filled) or 'none'}; the rows before it for "
                    f"{meter} fill {expected}",
                )
            )
            continue
        known[1].append((number, values, price))
    items: list[tuple[str, object]] = []
    for meter, (dimensions, priced) in by_meter.items():
        first = priced[0][0]
        if not dimensions:
            if len(priced) > 1:
                problems.append(
                    Problem(f"row {priced[1][0]}", f"{meter} already has a price in row {first}")
                )
                continue
            items.append((f"row {first}", {"meter": meter, "price": {"unit_price": priced[0][2]}}))
            continue
        # Each cell's own path names its row, not its place in the matrix.
        items.append(
            (
                f"row {first}",
                {
                    "meter": meter,
                    "model": "dimensions",
                    "dimensions": list(dimensions),
                    "cells": [
                        {"values": list(values), "price": {"unit_price": price}}
                        for _, values, price in priced
                    ],
                },
            )
        )
    rates, found = _rates(items, meters)
    problems += [_csv_place(p, by_meter) for p in found]
    if problems:
        raise Problems(problems)
    return CostSheet(None, None, tuple(rates))


def _csv_place(
    problem: Problem,
    by_meter: Mapping[str, tuple[tuple[str, ...], list[tuple[int, tuple[str, ...], str]]]],
) -> Problem:
    """`row 2.cells[3].price.unit_price` → `row 5.unit_price`: the CSV row
    that matrix cell came from."""
    head, _, rest = problem.path.partition(".")
    if not rest.startswith("cells["):
        if rest.startswith("price."):
            return Problem(f"{head}.{PRICE_COLUMN}", problem.message)
        return problem
    index_text, _, tail = rest[len("cells[") :].partition("]")
    first = int(head.removeprefix("row "))
    for _, priced in by_meter.values():
        if priced[0][0] == first and index_text.isdigit() and int(index_text) < len(priced):
            row = priced[int(index_text)][0]
            field = PRICE_COLUMN if "price" in tail else "values"
            return Problem(f"row {row}.{field}", problem.message)
    return problem


def sheet_to_dict(
    currency: str, rates: Sequence[RateDraft], effective_from: datetime | None = None
) -> dict[str, object]:
    """The JSON sheet of a cost plan's rates."""
    out: dict[str, object] = {"schema": SCHEMA, "currency": currency}
    if effective_from is not None:
        out["effective_from"] = effective_from.isoformat().replace("+00:00", "Z")
    out["rates"] = [rate_to_dict(r) for r in rates]
    return out


class NotTabular(ValueError):
    """The rates include one a CSV sheet cannot say (tiers, packages, fees)."""


def sheet_to_csv(rates: Sequence[RateDraft]) -> str:
    """The CSV sheet of per-unit and matrix rates with plain unit prices.
    NotTabular naming the meters whose rates only JSON can hold."""
    columns: list[str] = []
    for draft in rates:
        columns += [d for d in draft.dimensions if d not in columns]
    unfit = [
        d.meter
        for d in rates
        if d.default_price is not None
        or d.minimum_charge is not None
        or d.base_fee is not None
        or d.model not in ("per_unit", "dimensions")
        or any(p.single_unit_price is None or p.free_units for _, p in d.cells)
    ]
    if unfit:
        raise NotTabular(
            f"Only JSON can hold the rates of {', '.join(unfit)} (tiers, packages, fees or a "
            "default price)."
        )
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([METER_COLUMN, *columns, PRICE_COLUMN])
    for draft in rates:
        for values, price in draft.cells:
            given = dict(zip(draft.dimensions, values, strict=True))
            writer.writerow(
                [draft.meter, *(given.get(c, "") for c in columns), _plain(price.unit_price)]
            )
    return out.getvalue()


def _plain(value: object) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
