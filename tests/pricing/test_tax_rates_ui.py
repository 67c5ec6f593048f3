"""The tax rates page: the list, making a rate (errors next to the fields),
archiving one, and who may do what."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from billing_site.roles import OPERATOR, VIEWER
from pricing.models import TaxRate
from pricing.taxes import plan_tax_rates_set, tax_rate_create
from tests.factories import PlanFactory
from tests.fixtures import HTMX, element, field_errors, login, page, table_rows, text

pytestmark = pytest.mark.django_db

URL = reverse("pricing:tax_rates")
VAT = {"code": "uk-vat", "name": "VAT", "percentage": "20", "country": "GB", "inclusive": "false"}


def test_an_empty_list_says_what_tax_rates_are_for(client: Client) -> None:
    html = page(login(client, VIEWER).get(URL))

    assert "No tax rates yet" in text(html)
    assert "Add VAT or sales tax" in text(html)


def test_an_htmx_request_gets_only_the_tax_rates_region(client: Client) -> None:
    tax_rate_create(code="uk-vat", name="VAT", percentage="20")

    html = page(login(client, VIEWER).get(URL, headers=HTMX))

    assert "<html" not in html and html.lstrip().startswith('<div id="tax-rates">')
    assert "uk-vat" in html


def test_a_bad_choice_of_prices_is_an_error_next_to_it(client: Client) -> None:
    response = login(client).post(URL, {**VAT, "inclusive": "maybe"})

    assert field_errors(page(response), "inclusive") == ["Choose whether prices include the tax."]
    assert not TaxRate.objects.exists()


def test_the_list_shows_each_rate_with_its_country_and_plans(client: Client) -> None:
    rate = tax_rate_create(code="uk-vat", name="VAT", percentage="20", country="GB")
    tax_rate_create(code="ca-gst", name="GST", percentage="5.125", inclusive=True)
    plan = PlanFactory.create(name="Chatbot usage plan")
    plan_tax_rates_set(plan=plan, rates=[rate])

    html = page(login(client, VIEWER).get(URL))

    rows = table_rows(element(html, "tax-rate-table"))
    assert rows[1][:7] == [
        "ca-gst",
        "GST",
        "5.125%",
        "Everywhere",
        "Tax-inclusive",
        "None",
        "Active",
    ]
    assert rows[2][:7] == [
        "uk-vat",
        "VAT",
        "20%",
        "United Kingdom (GB)",
        "Tax-exclusive",
        "Chatbot usage plan",
        "Active",
    ]
    assert element(html, f"tax-rate-{rate.pk}")


def test_an_admin_creates_a_tax_rate_and_is_taken_to_it(client: Client) -> None:
    response = login(client).post(URL, VAT, follow=True)

    rate = TaxRate.objects.get(code="uk-vat")
    assert response.redirect_chain[-1][0] == f"{URL}#tax-rate-{rate.pk}"
    assert (rate.name, rate.percentage, rate.country.code, rate.inclusive) == (
        "VAT",
        Decimal("20"),
        "GB",
        False,
    )
    assert "Tax rate “VAT” (20%, United Kingdom) created" in text(page(response))


def test_an_htmx_create_answers_with_a_redirect(client: Client) -> None:
    response = login(client).post(URL, {**VAT, "inclusive": "true"}, headers=HTMX)

    assert response.status_code == 200
    assert response["HX-Redirect"].startswith(URL)
    assert TaxRate.objects.get().inclusive is True


def test_bad_input_is_shown_next_to_each_field(client: Client) -> None:
    tax_rate_create(code="uk-vat", name="VAT", percentage="20")
    bad = {"code": "uk-vat", "name": "", "percentage": "20.12345", "country": "XX"}

    response = login(client).post(URL, bad)

    html = page(response)
    assert response.status_code == 200
    assert field_errors(html, "name") == ["Name the tax as invoices print it, like VAT."]
    assert field_errors(html, "country") == ["Choose a country from the list, or Everywhere."]
    assert TaxRate.objects.count() == 1


def test_the_services_rules_are_shown_next_to_their_fields(client: Client) -> None:
    tax_rate_create(code="uk-vat", name="VAT", percentage="20")

    response = login(client).post(URL, {**VAT, "percentage": "120"}, headers=HTMX)

    html = page(response)
    assert "<html" not in html and 'id="tax-rates"' in html
    assert field_errors(html, "code") == ["A tax rate with the code “uk-vat” already exists."]
    assert field_errors(html, "percentage") == ["Enter a percentage from 0 to 100."]


def test_an_absurd_percentage_is_an_error_not_a_crash(client: Client) -> None:
    response = login(client).post(URL, {**VAT, "percentage": "1E+999999"})

    assert response.status_code == 200
    assert field_errors(page(response), "percentage") == ["Enter a percentage from 0 to 100."]


def test_an_admin_archives_a_rate(client: Client) -> None:
    rate = tax_rate_create(code="uk-vat", name="VAT", percentage="20")

    response = login(client).post(reverse("pricing:tax_rate_archive", args=[rate.pk]), follow=True)

    html = page(response)
    rate.refresh_from_db()
    assert rate.archived_at is not None
    assert "Tax rate “VAT” (uk-vat) archived" in text(html)
    assert "Archived" in text(element(html, f"tax-rate-{rate.pk}"))
    assert "Archive uk-vat" not in html  # no second archive button


def test_a_viewer_sees_the_rates_but_no_form_and_cannot_post(client: Client) -> None:
    rate = tax_rate_create(code="uk-vat", name="VAT", percentage="20")
    login(client, VIEWER)

    html = page(client.get(URL))
    archive = client.post(reverse("pricing:tax_rate_archive", args=[rate.pk]))
    create = client.post(URL, {**VAT, "code": "other"})

    assert "uk-vat" in html and "tax-rate-form" not in html and "Archive" not in html
    assert (archive.status_code, create.status_code) == (403, 403)
    assert TaxRate.objects.get().archived_at is None


def test_an_operator_cannot_create_a_tax_rate(client: Client) -> None:
    response = login(client, OPERATOR).post(URL, VAT)

    assert response.status_code == 403
    assert not TaxRate.objects.exists()
