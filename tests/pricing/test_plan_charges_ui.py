"""The plan page's "Invoice charges" card (the invoice minimum and one-time
fees, versioned like rates) and its "Taxes" card (the plan's tax rates)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from time_machine import TimeMachineFixture

from billing_site.roles import OPERATOR, VIEWER
from pricing.models import Plan
from pricing.selectors import version_charges
from pricing.services import plan_charges_save, plan_create
from pricing.taxes import plan_tax_rates_set, tax_rate_archive, tax_rate_create
from tests.factories import Guide, guide_setup
from tests.fixtures import HTMX, element, field_errors, form_errors, login, page, table_rows, text

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 28, 10, 47, tzinfo=UTC)
D = Decimal


@pytest.fixture(autouse=True)
def _frozen_clock(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def plan() -> Plan:
    """A plan no one is on: its charges change in place."""
    return plan_create(name="Chatbot usage plan", billing_period="monthly", currency="USD")


@pytest.fixture
def guide() -> Guide:
    """The guide's plan, with a customer on it: a change makes a version."""
    return guide_setup(NOW)


def charges_url(plan: Plan) -> str:
    return reverse("pricing:charges", args=[plan.pk])


def taxes_url(plan: Plan) -> str:
    return reverse("pricing:taxes", args=[plan.pk])


def detail(client: Client, plan: Plan) -> str:
    return page(client.get(plan.get_absolute_url()))


SETUP = {
    "invoice_minimum": "50",
    "fee-0-description": "Setup fee",
    "fee-0-amount": "500",
    "fee-1-description": "",
    "fee-1-amount": "",
    "fee-2-description": "",
    "fee-2-amount": "",
}


# Invoice charges


def test_a_plan_without_charges_says_what_they_are(client: Client, plan: Plan) -> None:
    card = element(detail(login(client, VIEWER), plan), "invoice-charges")

    assert "No invoice minimum or one-time fees" in text(card)
    assert "charges-form" not in card


def test_the_card_shows_the_minimum_and_fees(client: Client, plan: Plan) -> None:
    plan_charges_save(
        plan=plan,
        invoice_minimum="50",
        one_time_fees=[{"description": "Setup fee", "amount": "500"}],
    )

    card = element(detail(login(client, VIEWER), plan), "invoice-charges")

    assert "$50.00 per billing period" in text(card)
    assert ["Setup fee", "$500.00"] in table_rows(card)


def test_an_admin_sets_the_minimum_and_a_setup_fee_in_place(client: Client, plan: Plan) -> None:
    login(client)
    form = element(detail(client, plan), "charges-form")
    assert 'name="fee-2-amount"' in form and 'name="starts"' not in form  # 3 empty rows

    response = client.post(charges_url(plan), SETUP, follow=True)

    plan.refresh_from_db()
    charges = version_charges(plan.current_version)  # type: ignore[arg-type]
    assert charges.invoice_minimum == D("50")
    assert [(f.description, f.amount) for f in charges.one_time_fees] == [("Setup fee", D("500"))]
    assert plan.versions.count() == 1
    assert "Invoice charges of Chatbot usage plan saved." in text(page(response))
    assert ["Setup fee", "$500.00"] in table_rows(element(page(response), "invoice-charges"))


def test_the_edit_form_is_filled_in_with_the_current_charges(client: Client, plan: Plan) -> None:
    plan_charges_save(
        plan=plan,
        invoice_minimum="50",
        one_time_fees=[{"description": "Setup fee", "amount": "500"}],
    )

    form = element(detail(login(client), plan), "charges-form")

    assert 'value="50.00"' in form
    assert 'value="Setup fee"' in form and 'value="500.00"' in form
    assert 'name="fee-1-description"' in form  # a row for a new fee


def test_emptying_a_row_removes_its_fee(client: Client, plan: Plan) -> None:
    plan_charges_save(
        plan=plan,
        invoice_minimum=None,
        one_time_fees=[{"description": "Setup fee", "amount": "500"}],
    )

    login(client).post(charges_url(plan), {"invoice_minimum": "", "fee-0-description": ""})

    plan.refresh_from_db()
    assert version_charges(plan.current_version).one_time_fees == ()  # type: ignore[arg-type]


def test_errors_are_shown_next_to_the_inputs(client: Client, plan: Plan) -> None:
    bad = {
        **SETUP,
        "invoice_minimum": "-5",
        "fee-0-amount": "12.345",
        "fee-1-description": "",
        "fee-1-amount": "10",
        "fee-2-description": "Onboarding",
        "fee-2-amount": "",
    }

    response = login(client).post(charges_url(plan), bad, headers=HTMX)

    html = page(response)
    assert "<html" not in html and html.lstrip().startswith('<section id="invoice-charges"')
    assert field_errors(html, "invoice_minimum") == ["A minimum cannot be negative."]
    assert field_errors(html, "fee-0-amount") == ["Must have at most 2 decimal places in USD."]
    assert field_errors(html, "fee-1-description") == [
        "Describe the fee: the customer reads it on the invoice."
    ]
    assert field_errors(html, "fee-2-amount") == ["Enter the fee's amount."]
    assert 'value="Onboarding"' in html  # what was typed stays
    plan.refresh_from_db()
    assert version_charges(plan.current_version).invoice_minimum is None  # type: ignore[arg-type]


def test_add_another_fee_adds_a_row_and_saves_nothing(client: Client, plan: Plan) -> None:
    response = login(client).post(charges_url(plan), {**SETUP, "add_row": "1"}, headers=HTMX)

    html = page(response)
    assert 'name="fee-3-amount"' in html and 'value="Setup fee"' in html
    assert field_errors(html, "fee-0-amount") == []
    plan.refresh_from_db()
    assert version_charges(plan.current_version).one_time_fees == ()  # type: ignore[arg-type]


def test_on_a_plan_in_use_a_change_makes_a_version_from_the_chosen_period(
    client: Client, guide: Guide
) -> None:
    login(client)
    assert 'name="starts"' in element(detail(client, guide.plan), "charges-form")

    response = client.post(
        charges_url(guide.plan), {**SETUP, "starts": "current_period"}, follow=True
    )

    guide.plan.refresh_from_db()
    version = guide.plan.current_version
    assert version is not None and version.number == 2 and version.starts == "current_period"
    assert version_charges(version).invoice_minimum == D("50")
    assert (
        f"Invoice charges changed: version 2 of {guide.plan.name}, from the current period"
        in text(page(response))
    )


def test_on_a_plan_in_use_when_it_takes_effect_must_be_chosen(client: Client, guide: Guide) -> None:
    response = login(client).post(charges_url(guide.plan), {**SETUP, "starts": "someday"})

    assert field_errors(page(response), "starts-charges") == [
        "Choose when the change takes effect."
    ]
    assert guide.plan.versions.count() == 1


def test_the_version_page_shows_its_charges(client: Client, guide: Guide) -> None:
    plan_charges_save(
        plan=guide.plan,
        invoice_minimum="50",
        one_time_fees=[{"description": "Setup fee", "amount": "500"}],
        starts="next_period",
    )
    login(client, VIEWER)

    first = page(client.get(reverse("pricing:version", args=[guide.plan.pk, 1])))
    second = page(client.get(reverse("pricing:version", args=[guide.plan.pk, 2])))

    assert "No invoice minimum or one-time fees" in text(element(first, "invoice-charges"))
    assert ["Setup fee", "$500.00"] in table_rows(element(second, "invoice-charges"))


# Taxes


def test_a_plan_without_taxes_links_to_the_tax_rates_page(client: Client, plan: Plan) -> None:
    card = element(detail(login(client, VIEWER), plan), "taxes")

    assert "No taxes" in text(card)
    assert reverse("pricing:tax_rates") in card
    assert "taxes-form" not in card


def test_an_admin_chooses_the_plans_tax_rates(client: Client, plan: Plan) -> None:
    vat = tax_rate_create(code="uk-vat", name="VAT", percentage="20", country="GB")
    old = tax_rate_create(code="old-vat", name="Old VAT", percentage="17.5", country="GB")
    tax_rate_archive(rate=old, now=NOW)
    login(client)
    form = element(detail(client, plan), "taxes-form")
    assert "VAT 20% · United Kingdom · tax-exclusive" in text(form)
    assert "Old VAT" not in form  # archived rates are not offered

    response = client.post(taxes_url(plan), {"tax_rates": [str(vat.pk)]}, follow=True)

    assert list(plan.tax_rates.all()) == [vat]
    html = page(response)
    assert "Taxes of Chatbot usage plan saved (VAT)" in text(html)
    assert ["VAT uk-vat", "20%", "United Kingdom", "Tax-exclusive"] in table_rows(
        element(html, "taxes")
    )


def test_mixing_inclusive_and_exclusive_is_refused_next_to_the_field(
    client: Client, plan: Plan
) -> None:
    vat = tax_rate_create(code="uk-vat", name="VAT", percentage="20", country="GB")
    gst = tax_rate_create(code="au-gst", name="GST", percentage="10", inclusive=True)

    response = login(client).post(
        taxes_url(plan), {"tax_rates": [str(vat.pk), str(gst.pk)]}, headers=HTMX
    )

    html = page(response)
    assert html.lstrip().startswith('<section id="taxes"')
    assert field_errors(html, "tax_rates")[0].startswith(
        "A plan's tax rates are all tax-inclusive or all tax-exclusive"
    )
    assert not plan.tax_rates.exists()


def test_an_unknown_tax_rate_is_an_error_not_a_crash(client: Client, plan: Plan) -> None:
    response = login(client).post(taxes_url(plan), {"tax_rates": ["999", "abc"]})

    assert response.status_code == 200
    assert field_errors(page(response), "tax_rates")
    assert form_errors(page(response)) == []


def test_an_archived_rate_still_on_a_plan_is_marked(client: Client, plan: Plan) -> None:
    vat = tax_rate_create(code="uk-vat", name="VAT", percentage="20")
    plan_tax_rates_set(plan=plan, rates=[vat])
    tax_rate_archive(rate=vat, now=NOW)

    card = element(detail(login(client, VIEWER), plan), "taxes")

    assert "archived" in text(card)


# Permissions


def test_a_viewer_sees_the_cards_but_cannot_post(client: Client, plan: Plan) -> None:
    vat = tax_rate_create(code="uk-vat", name="VAT", percentage="20")
    login(client, VIEWER)

    html = detail(client, plan)
    charges = client.post(charges_url(plan), SETUP)
    taxes = client.post(taxes_url(plan), {"tax_rates": [str(vat.pk)]})

    assert element(html, "invoice-charges") and element(html, "taxes")
    assert "Edit invoice charges" not in html and "Choose tax rates" not in html
    assert (charges.status_code, taxes.status_code) == (403, 403)
    assert not plan.tax_rates.exists()


def test_an_operator_cannot_change_charges_or_taxes(client: Client, plan: Plan) -> None:
    login(client, OPERATOR)

    charges = client.post(charges_url(plan), SETUP)
    taxes = client.post(taxes_url(plan), {})

    assert (charges.status_code, taxes.status_code) == (403, 403)
