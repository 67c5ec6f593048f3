"""Plan files carry a plan's invoice minimum, one-time fees and tax rates:
read and checked with the rest of the document (every problem listed, all or
nothing), stored by the import, written by the export, and the same plan
after a round trip."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from pricing.models import Plan, TaxRate
from pricing.plan_files import check_plan, plan_file_import, plan_json
from pricing.schema import SCHEMA, InvoiceCharges, OneTimeFee, Problems, plan_to_dict, read_plan
from pricing.selectors import plan_draft
from pricing.taxes import tax_rate_archive, tax_rate_create
from tests.factories import Guide, guide_setup
from tests.fixtures import HTMX, element, login, page, table_rows, text

NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
CHARGES = {
    "invoice_minimum": "50.00",
    "one_time_fees": [
        {"description": "Setup fee", "amount": "500.00"},
        {"description": "Onboarding call", "amount": "120"},
    ],
}


def document(**given: object) -> dict[str, object]:
    return {"schema": SCHEMA, "name": "Pro", "currency": "USD", **given}


def problems(raw: object, tax_rates: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    with pytest.raises(Problems) as caught:
        read_plan(raw, {}, tax_rates)
    return [(p.path, p.message) for p in caught.value.problems]


# Reading: pure, no database


def test_the_charges_and_tax_rates_are_read() -> None:
    draft = read_plan(document(**CHARGES, tax_rates=["uk-vat"]), {}, ["uk-vat", "au-gst"])

    assert draft.charges == InvoiceCharges(
        invoice_minimum=Decimal("50.00"),
        one_time_fees=(
            OneTimeFee("Setup fee", Decimal("500.00")),
            OneTimeFee("Onboarding call", Decimal("120")),
        ),
    )
    assert draft.tax_rates == ("uk-vat",)


def test_left_out_the_plan_has_no_charges_and_no_taxes() -> None:
    draft = read_plan(document(), {})

    assert draft.charges == InvoiceCharges()
    assert draft.tax_rates == ()


def test_every_problem_is_listed_with_the_rest_of_the_document() -> None:
    raw = document(
        billing_period="fortnightly",
        invoice_minimum="fifty",
        one_time_fees=[
            {"description": "Setup fee", "amount": "500.001"},
            {"description": "", "amount": "0"},
        ],
        tax_rates=["uk-vat", "nope"],
    )

    assert problems(raw, ("uk-vat",)) == [
        ("billing_period", "must be one of weekly, monthly, quarterly, yearly"),
        ("invoice_minimum", "“fifty” is not a number"),
        ("one_time_fees[0].amount", "must have at most 2 decimal places in USD"),
        ("one_time_fees[1].description", "is required: the customer reads it on the invoice"),
        ("one_time_fees[1].amount", "must be greater than zero"),
        ("tax_rates", "no tax rate 'nope'"),
    ]


def test_amounts_are_held_to_the_plans_currency() -> None:
    raw = document(currency="JPY", invoice_minimum="5000.5", one_time_fees=[])

    assert problems(raw) == [("invoice_minimum", "must have at most 0 decimal places in JPY")]
    assert read_plan({**raw, "invoice_minimum": "5000"}, {}).charges.invoice_minimum == 5000


@pytest.mark.parametrize(
    ("given", "path"),
    [
        ({"invoice_minimum": "-1"}, "invoice_minimum"),
        ({"one_time_fees": {"description": "Setup"}}, "one_time_fees"),
        ({"one_time_fees": ["Setup fee"]}, "one_time_fees[0]"),
        ({"tax_rates": "uk-vat"}, "tax_rates"),
        ({"tax_rates": ["uk-vat"] * 51}, "tax_rates"),
    ],
)
def test_a_malformed_key_is_a_problem_at_its_path(given: dict[str, object], path: str) -> None:
    assert [where for where, _ in problems(document(**given), ("uk-vat",))] == [path]


def test_the_document_writes_the_charges_in_the_currencys_decimals() -> None:
    draft = read_plan(document(**CHARGES, tax_rates=["uk-vat"]), {}, ["uk-vat"])

    written = plan_to_dict(draft)

    assert written["invoice_minimum"] == "50.00"
    assert written["one_time_fees"] == [
        {"description": "Setup fee", "amount": "500.00"},
        {"description": "Onboarding call", "amount": "120.00"},
    ]
    assert written["tax_rates"] == ["uk-vat"]
    assert read_plan(written, {}, ["uk-vat"]) == draft


# Importing and exporting


@pytest.fixture
def guide(db: None) -> Guide:
    guide = guide_setup(NOW, events=False)
    tax_rate_create(code="uk-vat", name="VAT", percentage="20", country="GB")
    tax_rate_create(code="au-gst", name="GST", percentage="10", country="AU")
    return guide


def charged_document(guide: Guide) -> dict[str, object]:
    exported: dict[str, object] = json.loads(plan_json(guide.plan))
    return {**exported, "name": "Charged", **CHARGES, "tax_rates": ["uk-vat", "au-gst"]}


@pytest.mark.django_db
def test_an_import_stores_the_charges_and_taxes_and_exports_them_back(guide: Guide) -> None:
    raw = charged_document(guide)

    plan = plan_file_import(raw=raw).plan

    version = Plan.objects.get(pk=plan.pk).current_version
    assert version is not None and version.invoice_minimum == Decimal("50.00")
    assert version.one_time_fees == [
        {"description": "Setup fee", "amount": "500.00"},
        {"description": "Onboarding call", "amount": "120"},
    ]
    assert sorted(plan.tax_rates.values_list("code", flat=True)) == ["au-gst", "uk-vat"]
    exported = json.loads(plan_json(plan))
    assert exported["invoice_minimum"] == "50.00"
    assert exported["one_time_fees"][1] == {"description": "Onboarding call", "amount": "120.00"}
    assert exported["tax_rates"] == ["au-gst", "uk-vat"]


@pytest.mark.django_db
def test_export_then_import_gives_the_same_plan(guide: Guide) -> None:
    original = plan_file_import(raw=charged_document(guide)).plan
    tax_rate_archive(rate=TaxRate.objects.get(code="au-gst"), now=NOW)

    copy = plan_file_import(raw=json.loads(plan_json(original)), name="Charged copy").plan

    assert plan_draft(copy) == replace(plan_draft(original), name="Charged copy")
    assert plan_json(copy) == plan_json(original).replace('"Charged"', '"Charged copy"')


@pytest.mark.django_db
def test_an_unknown_tax_rate_is_listed_with_the_other_problems_and_nothing_is_stored(
    guide: Guide,
) -> None:
    raw = {
        **charged_document(guide),
        "tax_rates": ["uk-vat", "fr-tva"],
        "invoice_minimum": "1.234",
    }
    before = Plan.objects.count()

    with pytest.raises(Problems) as caught:
        plan_file_import(raw=raw)

    assert [(p.path, p.message) for p in caught.value.problems] == [
        ("invoice_minimum", "must have at most 2 decimal places in USD"),
        ("tax_rates", "no tax rate 'fr-tva'"),
    ]
    assert Plan.objects.count() == before


@pytest.mark.django_db
def test_tax_rates_mixing_inclusive_and_exclusive_are_a_problem(guide: Guide) -> None:
    tax_rate_create(code="inclusive", name="VAT", percentage="20", inclusive=True)
    raw = {**charged_document(guide), "tax_rates": ["uk-vat", "inclusive"]}

    with pytest.raises(Problems) as caught:
        check_plan(raw)

    [problem] = caught.value.problems
    assert problem.path == "tax_rates"
    assert "all tax-inclusive or all tax-exclusive" in problem.message


@pytest.mark.django_db
def test_the_import_page_lists_charge_problems_in_words(client: Client, guide: Guide) -> None:
    raw = {
        **charged_document(guide),
        "one_time_fees": [{"description": "Setup fee", "amount": "-5"}],
        "tax_rates": ["fr-tva"],
    }

    response = login(client).post(
        reverse("pricing:import"), {"document": json.dumps(raw)}, headers=HTMX
    )

    html = page(response)
    assert "The plan was not imported: 2 problems in the document." in text(html)
    assert table_rows(element(html, "plan-import"))[1:] == [
        [
            "One-time fee 1 › amount one_time_fees[0].amount",
            "must not be negative",
        ],
        ["Tax rates tax_rates", "no tax rate 'fr-tva'"],
    ]
    assert not Plan.objects.filter(name="Charged").exists()
