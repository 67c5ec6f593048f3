"""A customer's invoice locale through every door (the create and edit
pages, the native API, the admin), held to one rule
(customers.customer_rules.locale_problems, pricing.locales), shown on the
customer page; none means the seller's (settings.SELLER_LOCALE)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from customers.models import Customer
from customers.services import customer_create, customer_update
from tests.fixtures import api_send, element, field_errors, page, text

pytestmark = pytest.mark.django_db

CREATE_URL = reverse("customers:create")
OPTION = re.compile(r'<option value="([^"]*)"[^>]*>([^<]*)</option>')
UNKNOWN = "'xx_YY' is not a locale Tally knows (CLDR, e.g. de_DE or ja-JP)."


def test_the_create_page_offers_every_locale_and_the_customer_page_shows_the_chosen_one(
    admin_client: Client,
) -> None:
    options = dict(OPTION.findall(element(page(admin_client.get(CREATE_URL)), "id_locale")))
    assert options[""] == "Yours: English (United States)"
    assert options["ja_JP"] == "Japanese (Japan) · ja_JP"

    fields = {"name": "Acme GmbH", "customer_id": "acme", "locale": "de_DE"}
    response = admin_client.post(CREATE_URL, fields, follow=True)

    assert Customer.objects.get().locale == "de_DE"
    assert text(element(page(response), "invoice-locale")) == "German (Germany) · 1.234,56"


def test_a_customer_without_a_locale_reads_the_sellers(
    admin_client: Client, settings: Settings
) -> None:
    settings.SELLER_LOCALE = "fr_CH"
    acme = customer_create(name="Acme", customer_id="acme")

    html = page(admin_client.get(acme.get_absolute_url()))

    assert acme.invoice_locale == "fr_CH"
    assert text(element(html, "invoice-locale")) == (
        "French (Switzerland) · 1'234,56 · yours, as the customer has none"
    )


def test_the_create_page_puts_an_unknown_locale_next_to_its_field(admin_client: Client) -> None:
    fields = {"name": "Acme", "customer_id": "acme", "locale": "xx_YY"}

    html = page(admin_client.post(CREATE_URL, fields))

    assert field_errors(html, "locale") == [
        "Select a valid choice. xx_YY is not one of the available choices."
    ]
    assert not Customer.objects.exists()


def test_the_edit_page_changes_the_locale_and_back_to_the_sellers(admin_client: Client) -> None:
    acme = customer_create(name="Acme", customer_id="acme", locale="ja_JP")
    fields = {"name": "Acme", "email": "", "billing_address": "", "net_terms_days": ""}
    fields |= {"country": "", "tax_id": "", "tax_status": "taxable"}
    url = reverse("customers:edit", args=[acme.pk])

    edit_page = page(admin_client.get(url))
    assert re.findall(r'<option value="([^"]*)" selected>', element(edit_page, "id_locale")) == [
        "ja_JP"
    ]
    admin_client.post(url, fields | {"locale": "ar_EG"})
    acme.refresh_from_db()
    assert acme.locale == "ar_EG"

    admin_client.post(url, fields | {"locale": ""})
    acme.refresh_from_db()
    assert (acme.locale, acme.invoice_locale) == ("", "en_US")


def test_the_api_takes_a_bcp47_tag_stores_babels_name_and_patches_only_what_it_is_sent(
    client: Client,
) -> None:
    status, created = api_send(
        client,
        "post",
        "/api/v1/customers",
        {"name": "Acme", "customer_id": "acme", "locale": "zh-CN"},
    )
    assert (status, created["locale"]) == (201, "zh_Hans_CN")

    status, patched = api_send(
        client, "patch", f"/api/v1/customers/{created['id']}", {"name": "Acme Ltd"}
    )
    assert (status, patched["locale"]) == (200, "zh_Hans_CN")

    status, patched = api_send(
        client, "patch", f"/api/v1/customers/{created['id']}", {"locale": "fr-CH"}
    )
    assert (status, patched["locale"]) == (200, "fr_CH")


@pytest.mark.parametrize("locale", ["xx_YY", "en_ZZ", "de_DE; DROP TABLE", "x" * 100])
def test_the_api_names_the_locale_field_when_it_is_unknown(client: Client, locale: str) -> None:
    status, answer = api_send(
        client,
        "post",
        "/api/v1/customers",
        {"name": "Acme", "customer_id": "acme", "locale": locale},
    )

    assert status == 400
    assert [e["field"] for e in answer["errors"]] == ["locale"]
    assert not Customer.objects.exists()


def test_the_service_refuses_an_unknown_locale_and_changes_nothing() -> None:
    acme = customer_create(name="Acme", customer_id="acme", locale="de-de")
    assert acme.locale == "de_DE"

    with pytest.raises(Exception) as refused:
        customer_update(customer=acme, name="Acme", email="", locale="xx_YY")

    assert refused.value.message_dict == {"locale": [UNKNOWN]}  # type: ignore[attr-defined]
    acme.refresh_from_db()
    assert acme.locale == "de_DE"


def test_the_admin_holds_the_same_rule(admin_client: Client) -> None:
    data = {
        "name": "Acme",
        "customer_id": "acme",
        "enabled": "on",
        "traits": "{}",
        "tax_status": "taxable",
        "locale": "xx_YY",
        "assignments-TOTAL_FORMS": "0",
        "assignments-INITIAL_FORMS": "0",
        "assignments-MIN_NUM_FORMS": "0",
        "assignments-MAX_NUM_FORMS": "1000",
    }

    response = admin_client.post(reverse("admin:customers_customer_add"), data)

    assert response.context["adminform"].form.errors == {"locale": [UNKNOWN]}
    data["locale"] = "ja-jp"
    admin_client.post(reverse("admin:customers_customer_add"), data)
    assert Customer.objects.get().locale == "ja_JP"


def test_an_unknown_seller_locale_fails_the_system_check(settings: Settings) -> None:
    from pricing.apps import seller_locale_check

    settings.SELLER_LOCALE = "xx_YY"
    assert [e.id for e in seller_locale_check()] == ["pricing.E001"]
    settings.SELLER_LOCALE = "de_DE"
    assert seller_locale_check() == []
