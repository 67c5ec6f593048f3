"""`manage.py export_plan` and `import_plan`: a plan written out and read back is
the same plan, charging the same amounts; a bad file is refused whole, with
every problem listed."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from customers.services import customer_create, plan_assign
from invoices.builder import Invoice, build_invoice, current_period
from meters.models import Meter
from meters.services import events_ingest, meter_create
from pricing import services
from pricing.models import Plan, PriceCell, Rate
from pricing.price_models import CellPrice, PackageRounding, PriceModel, Tier
from pricing.schema import RateDraft, plan_to_dict
from pricing.selectors import plan_draft
from pricing.services import plan_create, rate_save
from tests.factories import millis, month_start

NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
D = Decimal
# Stripe's example tiers: six units cost $29 graduated and $24 volume.
STRIPE_TIERS = (
    Tier(D("5"), D("5")),
    Tier(D("10"), D("4"), D("1")),  # a flat fee once usage reaches the second tier
    Tier(D("15"), D("3")),
    Tier(D("20"), D("2")),
    Tier(None, D("1")),
)


def _meter(api_name: str, dimensions: list[str] | None = None) -> Meter:
    label = api_name.replace("-", " ").capitalize()
    return meter_create(
        label=label, api_name=api_name, meter_type="count", dimensions=dimensions or []
    )


def _single(
    model: str,
    price: CellPrice,
    *,
    minimum_charge: Decimal | None = None,
    base_fee: Decimal | None = None,
) -> RateDraft:
    return RateDraft("", model, (), (((), price),), None, minimum_charge, base_fee)


def build_full_plan() -> Plan:
    """Every rate model the product has, each with the options it can carry."""
    meters = {name: _meter(name) for name in ("api-calls", "images", "seats", "exports")} | {
        "llm-tokens": _meter("llm-tokens", ["model", "type"])
    }
    plan = plan_create(name="Everything plan", billing_period="monthly", currency="USD")
    drafts = {
        "api-calls": _single("per_unit", CellPrice(D("0.01")), base_fee=D("5")),
        "images": _single("graduated", CellPrice(model=PriceModel.GRADUATED, tiers=STRIPE_TIERS)),
        "seats": _single(
            "volume",
            CellPrice(model=PriceModel.VOLUME, tiers=STRIPE_TIERS),
            minimum_charge=D("50"),
        ),
        "exports": _single(
            "package",
            CellPrice(
                model=PriceModel.PACKAGE,
                package_size=D("100"),
                package_price=D("9"),
                free_units=D("50"),
            ),
        ),
        "llm-tokens": RateDraft(
            "llm-tokens",
            "dimensions",
            ("model", "type"),
            (
                (
                    ("model a", "input"),
                    CellPrice(
                        model=PriceModel.GRADUATED,
                        tiers=(Tier(D("1000"), D("0.00001")), Tier(None, D("0.000005"))),
                        free_units=D("100"),
                    ),
                ),
                (("model a", "output"), CellPrice(D("0.00002"))),
                (
                    ("model b", "input"),
                    CellPrice(
                        model=PriceModel.PACKAGE,
                        package_size=D("1000"),
                        package_price=D("0.004"),
                        package_rounding=PackageRounding.DOWN,
                    ),
                ),
                # Twelve decimal places must survive the trip exactly.
                (("model b", "output"), CellPrice(D("0.000000000001"))),
            ),
            default_price=CellPrice(D("0.00003")),
        ),
    }
    for api_name, draft in drafts.items():
        rate_save(plan=plan, meter=meters[api_name], draft=replace(draft, meter=api_name))
    return plan


def usage(customer_id: str) -> list[dict[str, object]]:
    at = millis(NOW - timedelta(minutes=1))

    def record(meter: str, value: int, **dimensions: str) -> dict[str, object]:
        key = "-".join([meter, *dimensions.values()]).replace(" ", "-")
        return {
            "meterApiName": meter,
            "meterValue": value,
            "customerId": customer_id,
            "meterTimeInMillis": at,
            "uniqueId": f"{customer_id}-{key}",
            "dimensions": dimensions,
        }

    return [
        record("api-calls", 10),
        record("images", 12),
        record("seats", 6),
        record("exports", 251),
        record("llm-tokens", 2100, model="model a", type="input"),
        record("llm-tokens", 1000, model="model a", type="output"),
        record("llm-tokens", 2500, model="model b", type="input"),
        record("llm-tokens", 1000, model="model b", type="output"),
        record("llm-tokens", 1000, model="model c", type="input"),
    ]


def invoice_for(plan: Plan, customer_id: str) -> Invoice:
    customer = customer_create(name=customer_id, customer_id=customer_id)
    plan_assign(customer=customer, plan=plan, start_at=month_start(NOW))
    result = events_ingest(records=usage(customer_id), now=NOW)
    assert (result.accepted, result.rejected) == (9, []), result
    ref = current_period(customer, NOW)
    assert ref is not None
    return build_invoice(customer, ref)


def export(*args: str) -> str:
    out = StringIO()
    call_command("export_plan", *args, stdout=out)
    return out.getvalue()


def import_plan(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_plan", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def counts() -> tuple[int, int, int]:
    return Plan.objects.count(), Rate.objects.count(), PriceCell.objects.count()


def cell_rows(plan: Plan) -> list[tuple[object, ...]]:
    """Every stored price of the plan, as the database holds it."""
    return sorted(
        PriceCell.objects.filter(rate__plan=plan).values_list(
            "rate__meter__api_name",
            "rate__rate_model",
            "rate__dimensions",
            "rate__minimum_charge",
            "rate__base_fee",
            "is_default",
            "dimension_key",
            "price_model",
            "unit_price",
            "tiers",
            "package_size",
            "package_price",
            "package_rounding",
            "free_units",
        ),
        key=repr,
    )


@pytest.fixture
def plan(db: None) -> Plan:
    return build_full_plan()


def write(tmp_path: Path, document: object, name: str = "plan.json") -> str:
    path = tmp_path / name
    text = document if isinstance(document, str) else json.dumps(document, indent=2)
    path.write_text(text, encoding="utf-8")
    return str(path)


# The round trip


@pytest.mark.django_db
def test_an_exported_plan_imports_as_the_same_plan(plan: Plan, tmp_path: Path) -> None:
    document = export(plan.name)
    out, _ = import_plan(write(tmp_path, document), "--name", "Everything plan (copy)")

    copy = Plan.objects.get(name="Everything plan (copy)")
    assert out.startswith("Imported “Everything plan (copy)” with 5 rates")
    assert replace(plan_draft(copy), name=plan.name) == plan_draft(plan)
    assert cell_rows(copy) == cell_rows(plan)
    assert (copy.billing_period, copy.currency) == (plan.billing_period, plan.currency)
    # Exported again, the copy is the same document, to the character.
    assert export("--id", str(copy.pk)).replace(" (copy)", "") == document


@pytest.mark.django_db
def test_a_re_imported_plan_charges_the_same_amounts(plan: Plan, tmp_path: Path) -> None:
    import_plan(write(tmp_path, export(plan.name)), "--name", "Copy")

    original = invoice_for(plan, "original-customer")
    copied = invoice_for(Plan.objects.get(name="Copy"), "copy-customer")

    def lines(invoice: Invoice) -> list[tuple[object, ...]]:
        return [
            (
                x.description,
                x.dimensions,
                x.quantity,
                x.unit_price,
                x.exact_amount,
                x.amount,
                x.kind,
            )
            for x in invoice.lines
        ]

    assert lines(copied) == lines(original)
    assert [x.explanation for x in copied.lines] == [x.explanation for x in original.lines]
    assert copied.unpriced == original.unpriced == []
    # 5.10 api calls + 52 images (25 + 20 + 1 flat + 6) + 50 seats (24 trued up
    # to the minimum) + 27 exports (3 packages) + 0.08 tokens.
    assert copied.total == original.total == Decimal("134.18")


@pytest.mark.django_db
def test_export_writes_every_price_as_exact_text_in_schema_order(plan: Plan) -> None:
    document = json.loads(export(plan.name))

    assert list(document) == [
        "schema",
        "name",
        "billing_period",
        "currency",
        "billing_anchor",
        "grace_period_hours",
        "net_terms_days",
        "late_usage_policy",
        "invoice_minimum",
        "one_time_fees",
        "tax_rates",
        "rates",
    ]
    assert document == plan_to_dict(plan_draft(plan))
    tokens = next(r for r in document["rates"] if r["meter"] == "llm-tokens")
    assert list(tokens) == [
        "meter",
        "model",
        "dimensions",
        "cells",
        "default_price",
        "minimum_charge",
        "base_fee",
        "first_tier_fee_at_zero",
    ]
    prices = {tuple(c["values"]): c["price"] for c in tokens["cells"]}
    assert prices[("model b", "output")]["unit_price"] == "0.000000000001"
    assert prices[("model a", "input")]["tiers"][-1] == {
        "up_to": None,
        "unit_price": "0.000005",
        "flat_fee": "0",
    }


@pytest.mark.django_db
def test_export_to_a_file_writes_the_same_document(plan: Plan, tmp_path: Path) -> None:
    target = tmp_path / "everything.json"
    err = StringIO()
    call_command("export_plan", "--id", str(plan.pk), "--output", str(target), stderr=err)

    assert target.read_text(encoding="utf-8") == export(plan.name)
    assert f"to {target}" in err.getvalue()


@pytest.mark.django_db
def test_export_finds_a_plan_by_name_ignoring_case(plan: Plan) -> None:
    assert export("everything PLAN") == export(plan.name)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["No such plan"], "There is no pricing plan named “No such plan”. Plans: “Everything"),
        (["--id", "999999"], "There is no pricing plan with id 999999."),
    ],
)
def test_export_of_an_unknown_plan_is_an_error(plan: Plan, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        export(*args)


@pytest.mark.django_db
def test_import_reads_json_numbers_as_exact_decimals(tmp_path: Path) -> None:
    _meter("api-calls")
    # A JSON number, not a string: read with parse_float=Decimal, never a float.
    text = (
        '{"schema": "tally.plan/1", "name": "Numbers", "rates": [{"meter": "api-calls", '
        '"model": "per_unit", "price": {"unit_price": 0.000000100000001}, "base_fee": 0.1}]}'
    )
    import_plan(write(tmp_path, text))

    rate = Rate.objects.get(plan__name="Numbers")
    assert rate.base_fee == Decimal("0.1")
    assert rate.cells.get().unit_price == Decimal("0.000000100000001")


# Refusals


def bad_document() -> dict[str, object]:
    return {
        "schema": "tally.plan/1",
        "name": "Broken plan",
        "billing_period": "monthly",
        "currency": "USD",
        "rates": [
            {"meter": "no-such-meter", "model": "per_unit", "price": {"unit_price": "1"}},
            {
                "meter": "images",
                "model": "graduated",
                "price": {
                    "tiers": [
                        {"up_to": "10", "unit_price": "1"},
                        {"up_to": "5", "unit_price": "-2"},
                        {"up_to": None, "unit_price": "1"},
                    ]
                },
            },
            {
                "meter": "exports",
                "model": "package",
                "price": {"package_size": "0", "package_price": "9"},
            },
            {
                "meter": "llm-tokens",
                "model": "dimensions",
                "dimensions": ["model", "type"],
                "cells": [
                    {"values": ["model a", "input"], "price": {"unit_price": "0.1"}},
                    {"values": ["model a", "input"], "price": {"unit_price": "0.2"}},
                ],
            },
        ],
    }


BAD_DOCUMENT_PROBLEMS = [
    "rates[0].meter: unknown meter 'no-such-meter'",
    "rates[1].price.tiers[1].up_to: must be above the tier before (10): tiers must rise "
    "without overlapping",
    "rates[1].price.tiers[1].unit_price: must not be negative",
    "rates[2].price.package_size: a package must hold more than 0 units",
    "rates[3].cells[1].values: model a · input is already priced in row 1",
]


@pytest.mark.django_db
def test_an_invalid_file_lists_every_problem_and_stores_nothing(plan: Plan, tmp_path: Path) -> None:
    before = counts()
    err = StringIO()
    with pytest.raises(CommandError, match="5 problems; nothing was imported"):
        call_command("import_plan", write(tmp_path, bad_document()), stderr=err)

    assert err.getvalue().splitlines() == BAD_DOCUMENT_PROBLEMS
    assert counts() == before


@pytest.mark.django_db
def test_a_failure_part_way_through_leaves_no_half_imported_plan(
    plan: Plan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, export(plan.name))
    before = counts()
    real_rate_save = services.rate_save
    saved: list[str] = []

    def failing_rate_save(*, plan: Plan, meter: Meter, draft: RateDraft) -> Rate:
        if saved:  # the second rate fails, after a plan and one rate are written
            raise ValidationError("the disk is full")
        saved.append(meter.api_name)
        return real_rate_save(plan=plan, meter=meter, draft=draft)

    monkeypatch.setattr(services, "rate_save", failing_rate_save)
    with pytest.raises(CommandError, match="the disk is full. Nothing was imported."):
        import_plan(path, "--name", "Half")

    assert saved == ["api-calls"]
    assert counts() == before


@pytest.mark.django_db
def test_dry_run_checks_the_file_and_stores_nothing(plan: Plan, tmp_path: Path) -> None:
    path = write(tmp_path, export(plan.name))
    before = counts()

    out, _ = import_plan(path, "--name", "Trial", "--dry-run")

    assert out.splitlines()[0] == (
        f"{path} is valid: it would create “Trial” with 5 rates. Nothing was stored."
    )
    assert "  llm-tokens: dimensions" in out.splitlines()
    assert counts() == before


@pytest.mark.django_db
def test_dry_run_of_an_invalid_file_lists_its_problems(plan: Plan, tmp_path: Path) -> None:
    before = counts()
    err = StringIO()
    with pytest.raises(CommandError, match="5 problems"):
        call_command("import_plan", write(tmp_path, bad_document()), "--dry-run", stderr=err)

    assert err.getvalue().splitlines() == BAD_DOCUMENT_PROBLEMS
    assert counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_a_plan_name_that_is_taken_is_a_clear_error(
    plan: Plan, tmp_path: Path, dry_run: list[str]
) -> None:
    path = write(tmp_path, export(plan.name))
    before = counts()

    with pytest.raises(CommandError, match="A pricing plan named “Everything plan” already exists"):
        import_plan(path, *dry_run)
    with pytest.raises(CommandError, match="named “EVERYTHING PLAN” already exists"):
        import_plan(path, "--name", "EVERYTHING PLAN", *dry_run)
    assert counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"schema": "tally.plan/1",', "Not valid JSON: Expecting"),
        (b"\xff\xfe{}", "The file is not UTF-8 text. Nothing was imported."),
        (b'{"unit_price": NaN}', "Not valid JSON: NaN is not a finite number"),
        (b"[1, 2]", "1 problem; nothing was imported"),
    ],
)
def test_an_unreadable_file_is_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(content)

    with pytest.raises(CommandError, match=message):
        import_plan(str(path))
    assert Plan.objects.count() == 0


@pytest.mark.django_db
def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="Cannot read .*missing.json: No such file"):
        import_plan(str(tmp_path / "missing.json"))


@pytest.mark.parametrize(
    ("name", "option"), [("export_plan", "--output"), ("import_plan", "--dry-run")]
)
def test_the_commands_explain_themselves(
    name: str, option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        call_command(name, "--help")
    shown = capsys.readouterr().out
    assert "tally.plan/1" in shown
    assert option in shown


@pytest.mark.django_db
def test_the_documented_example_imports_and_exports_unchanged(tmp_path: Path) -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "PLAN_SCHEMA.md"
    example = docs.read_text(encoding="utf-8").split("```json\n")[1].split("```")[0]
    _meter("api-calls")
    _meter("images")
    _meter("llm-tokens", ["model", "type"])

    import_plan(write(tmp_path, example))

    assert export("Chatbot Usage Plan") == example
