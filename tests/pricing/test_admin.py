"""The Django admin shows plans, rates and prices but cannot change them: the
plan pages and the API are the doors that apply the pricing rules. Tax rates
and coupons it can add, through the same services, and archive; never edit or
delete. Tested as a superuser, who would otherwise be allowed everything."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from billing_site.roles import VIEWER
from pricing.coupons import coupon_create
from pricing.models import Coupon, Plan, PriceCell, Rate, TaxRate
from pricing.selectors import plan_rates
from pricing.services import plan_charges_save
from pricing.taxes import plan_tax_rates_set, tax_rate_create
from tests.factories import Guide, guide_setup
from tests.fixtures import text, user_with_role

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def guide() -> Guide:
    return guide_setup(NOW, events=False)


def _change_url(obj: Plan | Rate | PriceCell) -> str:
    return reverse(f"admin:pricing_{obj._meta.model_name}_change", args=[obj.pk])


def _api_cell(guide: Guide) -> PriceCell:
    return guide.api_rate.cells.get()


def test_a_price_cell_change_page_shows_the_price_as_text_not_an_input(
    admin_client: Client, guide: Guide
) -> None:
    html = admin_client.get(_change_url(_api_cell(guide))).content.decode()

    assert 'name="unit_price"' not in html
    assert '<div class="readonly">$0.01 per unit</div>' in html
    assert "edited in the app" in html
    assert f'href="{guide.plan.get_absolute_url()}"' in html
    assert 'name="_save"' not in html


def test_posting_a_new_unit_price_to_the_admin_leaves_the_stored_price(
    admin_client: Client, guide: Guide
) -> None:
    cell = _api_cell(guide)

    response = admin_client.post(_change_url(cell), {"unit_price": "-5", "_save": "Save"})

    assert response.status_code == 403
    cell.refresh_from_db()
    assert cell.unit_price == Decimal("0.01")


def test_a_matrix_rows_price_cannot_be_changed_from_the_rate_page(
    admin_client: Client, guide: Guide
) -> None:
    before = list(guide.token_rate.cells.values_list("pk", "unit_price"))
    cell_pk = before[0][0]
    form = {
        "minimum_charge": "100",
        "cells-TOTAL_FORMS": "1",
        "cells-INITIAL_FORMS": "1",
        "cells-0-id": str(cell_pk),
        "cells-0-rate": str(guide.token_rate.pk),
        "cells-0-unit_price": "999",
    }

    page = admin_client.get(_change_url(guide.token_rate)).content.decode()
    response = admin_client.post(_change_url(guide.token_rate), form)

    assert 'name="cells-0-unit_price"' not in page
    assert "$0.00001 per unit" in page
    assert response.status_code == 403
    guide.token_rate.refresh_from_db()
    assert guide.token_rate.minimum_charge is None
    assert list(guide.token_rate.cells.values_list("pk", "unit_price")) == before


def test_a_plan_cannot_be_renamed_or_repriced_in_the_admin(
    admin_client: Client, guide: Guide
) -> None:
    page = admin_client.get(_change_url(guide.plan)).content.decode()
    response = admin_client.post(
        _change_url(guide.plan), {"name": "chatbot usage plan", "currency": "EUR"}
    )

    assert 'name="name"' not in page
    assert f'href="{guide.plan.get_absolute_url()}"' in page
    assert response.status_code == 403
    guide.plan.refresh_from_db()
    assert (guide.plan.name, guide.plan.currency) == ("Chatbot Usage Plan", "USD")


@pytest.mark.parametrize("model", ["plan", "rate", "pricecell"])
def test_nothing_priced_can_be_added_in_the_admin(admin_client: Client, model: str) -> None:
    assert admin_client.get(reverse(f"admin:pricing_{model}_add")).status_code == 403


def test_a_single_price_cannot_be_deleted_in_the_admin(admin_client: Client, guide: Guide) -> None:
    cell = _api_cell(guide)
    url = reverse("admin:pricing_pricecell_delete", args=[cell.pk])

    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert PriceCell.objects.filter(pk=cell.pk).exists()


def test_deleting_a_rate_in_the_admin_removes_it_with_its_prices(
    admin_client: Client, guide: Guide
) -> None:
    guide.assignment.delete()  # a plan that bills no one changes in place
    rate = guide.token_rate
    url = reverse("admin:pricing_rate_delete", args=[rate.pk])

    response = admin_client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert not Rate.objects.filter(pk=rate.pk).exists()
    assert not PriceCell.objects.filter(rate_id=rate.pk).exists()
    assert list(plan_rates(guide.plan).values_list("meter__api_name", flat=True)) == ["api-calls"]


def test_a_plan_in_use_changes_its_prices_in_the_app_not_the_admin(
    admin_client: Client, guide: Guide
) -> None:
    """Deleting a rate of a plan that bills customers makes a new price
    version, effective when the operator chooses: the admin cannot ask."""
    rate = guide.token_rate
    url = reverse("admin:pricing_rate_delete", args=[rate.pk])

    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert Rate.objects.filter(pk=rate.pk).exists()
    assert guide.plan.versions.count() == 1


def test_the_admin_lists_still_show_plans_rates_and_prices(
    admin_client: Client, guide: Guide
) -> None:
    for model in ("plan", "rate", "pricecell"):
        response = admin_client.get(reverse(f"admin:pricing_{model}_changelist"))
        assert response.status_code == 200
    prices = admin_client.get(reverse("admin:pricing_pricecell_changelist")).content.decode()
    assert "$0.01 per unit" in prices


def test_a_plan_cannot_be_deleted_in_the_admin(admin_client: Client, guide: Guide) -> None:
    url = reverse("admin:pricing_plan_delete", args=[guide.plan.pk])

    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert plan_rates(guide.plan).count() == 2


def test_prices_read_as_a_person_writes_them_not_as_stored(
    admin_client: Client, guide: Guide
) -> None:
    guide.token_rate.base_fee = Decimal("10")
    guide.token_rate.save(update_fields=["base_fee"])
    cell = guide.token_rate.cells.get(dimension_values=["model a", "input"])
    changelist = admin_client.get(reverse("admin:pricing_pricecell_changelist")).content.decode()
    cell_page = admin_client.get(_change_url(cell)).content.decode()
    rate_page = admin_client.get(_change_url(guide.token_rate)).content.decode()

    for html in (changelist, cell_page):
        assert "model: model a, type: input" in html
        assert "model=model%20a" not in html
    for html in (changelist, cell_page, rate_page):
        assert "000000000" not in html
    assert '<div class="readonly">$0.00001</div>' in cell_page
    assert '<div class="readonly">$10.00</div>' in rate_page


# Tax rates and coupons: added through their services, then read-only, and
# archived rather than deleted.

TAX_RATE = {"code": "uk-vat", "name": "VAT", "percentage": "20", "country": "GB"}
COUPON = {
    "code": "WELCOME10",
    "name": "Welcome offer",
    "kind": "percentage",
    "value": "10",
    "currency": "",
    "duration": "once",
    "duration_periods": "",
    "max_redemptions": "",
    "redeem_by_0": "",
    "redeem_by_1": "",
}


def _add(client: Client, model: str, form: dict[str, str]) -> str:
    response = client.post(reverse(f"admin:pricing_{model}_add"), form)
    assert response.status_code in (200, 302)
    return "" if response.status_code == 302 else response.content.decode()


def _field_errors(html: str, field: str) -> str:
    """The error list Django's admin shows with the field (its row)."""
    row = re.search(
        rf'<div class="form-row[^"]*field-{field}\b.*?(?=<div class="form-row|</fieldset>)',
        html,
        re.S,
    )
    assert row is not None, f"no row for {field}"
    return text(row.group(0))


def _archive(client: Client, model: str, pks: list[int]) -> str:
    response = client.post(
        reverse(f"admin:pricing_{model}_changelist"),
        {"action": "archive", "_selected_action": [str(pk) for pk in pks]},
        follow=True,
    )
    assert response.status_code == 200
    return text(response.content.decode())


@pytest.fixture
def staff_viewer(db: None) -> Client:
    """A staff user holding the Viewer role: may look, not add or archive."""
    user = user_with_role(VIEWER)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(user)
    return client


def test_adding_a_tax_rate_in_the_admin_stores_it_as_the_service_would(
    admin_client: Client, db: None
) -> None:
    assert _add(admin_client, "taxrate", TAX_RATE | {"code": " uk-vat "}) == ""

    rate = TaxRate.objects.get()
    assert (rate.code, rate.name, rate.percentage, rate.country.code, rate.inclusive) == (
        "uk-vat",
        "VAT",
        Decimal("20"),
        "GB",
        False,
    )
    listing = text(admin_client.get(reverse("admin:pricing_taxrate_changelist")).content.decode())
    assert "uk-vat VAT 20% United Kingdom" in listing


@pytest.mark.parametrize(
    ("given", "field", "message"),
    [
        ({"percentage": "120"}, "percentage", "Enter a percentage from 0 to 100."),
        ({"percentage": "20.12345"}, "percentage", "Use at most 4 decimal places."),
        ({"percentage": "twenty"}, "percentage", "Enter a number, like 20 for 20%."),
        ({"code": "uk vat!"}, "code", "Use letters, digits, - and _ (at most 50), like uk-vat."),
        ({"name": "   "}, "name", "This field is required."),
    ],
)
def test_an_invalid_tax_rate_shows_the_error_at_its_field_and_stores_nothing(
    admin_client: Client, db: None, given: dict[str, str], field: str, message: str
) -> None:
    html = _add(admin_client, "taxrate", TAX_RATE | given)

    assert message in _field_errors(html, field)
    assert not TaxRate.objects.exists()


def test_a_tax_rate_code_already_taken_in_another_case_is_refused_at_the_code(
    admin_client: Client, db: None
) -> None:
    tax_rate_create(code="uk-vat", name="VAT", percentage="20", country="GB")

    html = _add(admin_client, "taxrate", TAX_RATE | {"code": "UK-VAT", "percentage": "5"})

    assert "A tax rate with the code “UK-VAT” already exists." in _field_errors(html, "code")
    assert list(TaxRate.objects.values_list("percentage", flat=True)) == [Decimal("20")]


def test_a_tax_rates_percentage_cannot_be_changed_in_the_admin(
    admin_client: Client, db: None
) -> None:
    rate = tax_rate_create(code="uk-vat", name="VAT", percentage="20", country="GB")
    url = reverse("admin:pricing_taxrate_change", args=[rate.pk])

    page = admin_client.get(url).content.decode()
    posted = admin_client.post(url, {"percentage": "5", "inclusive": "on", "name": "Sales tax"})

    assert 'name="percentage"' not in page and 'name="inclusive"' not in page
    assert '<div class="readonly">20%</div>' in page
    assert 'name="_save"' not in page
    assert posted.status_code == 403
    rate.refresh_from_db()
    assert (rate.name, rate.percentage, rate.inclusive) == ("VAT", Decimal("20"), False)


def test_a_tax_rate_is_archived_in_the_admin_not_deleted(admin_client: Client, db: None) -> None:
    rate = tax_rate_create(code="uk-vat", name="VAT", percentage="20", country="GB")
    other = tax_rate_create(code="de-vat", name="MwSt", percentage="19", country="DE")
    delete_url = reverse("admin:pricing_taxrate_delete", args=[rate.pk])
    changelist = admin_client.get(reverse("admin:pricing_taxrate_changelist")).content.decode()

    deleted = admin_client.post(delete_url, {"post": "yes"})
    shown = _archive(admin_client, "taxrate", [rate.pk])

    assert 'value="delete_selected"' not in changelist
    assert "Archive the selected tax rates" in changelist
    assert deleted.status_code == 403
    assert "Archived 1 tax rate." in shown
    rate.refresh_from_db()
    other.refresh_from_db()
    assert rate.archived_at is not None and other.archived_at is None
    assert "The selected tax rates were already archived." in _archive(
        admin_client, "taxrate", [rate.pk]
    )


def test_adding_a_coupon_in_the_admin_stores_it_as_the_service_would(
    admin_client: Client, guide: Guide
) -> None:
    api_calls = guide.api_rate.meter
    form = COUPON | {
        "code": "API5",
        "name": "API calls off",
        "kind": "fixed",
        "value": "5",
        "currency": "USD",
        "duration": "repeating",
        "duration_periods": "3",
        "meters": str(api_calls.pk),
        "max_redemptions": "100",
    }

    assert _add(admin_client, "coupon", form) == ""

    coupon = Coupon.objects.get()
    assert (coupon.code, coupon.kind, coupon.value, coupon.currency) == (
        "API5",
        "fixed",
        Decimal("5"),
        "USD",
    )
    assert (coupon.duration_periods, coupon.max_redemptions) == (3, 100)
    assert list(coupon.meters.all()) == [api_calls]
    listing = text(admin_client.get(reverse("admin:pricing_coupon_changelist")).content.decode())
    assert "API5 API calls off $5.00 off, for 3 invoices API calls 100" in listing


@pytest.mark.parametrize(
    ("given", "field", "message"),
    [
        ({"kind": "fixed"}, "currency", "A fixed amount needs its currency"),
        ({"value": "120"}, "value", "A percentage is at most 100."),
        ({"value": "0"}, "value", "Enter a value greater than zero."),
        (
            {"kind": "fixed", "currency": "USD", "value": "5.001"},
            "value",
            "Use at most 2 decimal places in USD.",
        ),
        ({"duration": "repeating"}, "duration_periods", "Say for how many invoices: 1 to 1000."),
        ({"max_redemptions": "0"}, "max_redemptions", "From 1 to 2,147,483,647, or leave it"),
        (
            {"max_redemptions": "99999999999999999999"},
            "max_redemptions",
            "From 1 to 2,147,483,647, or leave it blank for no limit.",
        ),
        (
            {"duration": "repeating", "duration_periods": "99999999999999999999"},
            "duration_periods",
            "Say for how many invoices: 1 to 1000.",
        ),
        ({"value": "1E+100"}, "value", "A percentage is at most 100."),
        (
            {"kind": "fixed", "currency": "USD", "value": "NaN"},
            "value",
            "Enter a value greater than zero.",
        ),
        (
            {"redeem_by_0": "2020-01-01", "redeem_by_1": "00:00:00"},
            "redeem_by",
            "Choose a time in the future, or leave it blank.",
        ),
        ({"code": "WELCOME 10"}, "code", "Use 1 to 50 letters, digits, - and _"),
    ],
)
def test_an_invalid_coupon_shows_the_error_at_its_field_and_stores_nothing(
    admin_client: Client, db: None, given: dict[str, str], field: str, message: str
) -> None:
    html = _add(admin_client, "coupon", COUPON | given)

    assert message in _field_errors(html, field)
    assert not Coupon.objects.exists()


def test_a_coupons_terms_cannot_be_changed_in_the_admin(admin_client: Client, db: None) -> None:
    coupon = coupon_create(
        code="WELCOME10", name="Welcome offer", kind="percentage", value="10", now=NOW
    )
    url = reverse("admin:pricing_coupon_change", args=[coupon.pk])

    page = admin_client.get(url).content.decode()
    posted = admin_client.post(url, COUPON | {"value": "100", "duration": "forever"})

    assert 'name="value"' not in page
    assert '<div class="readonly">10% off, once</div>' in page
    assert '<div class="readonly">The whole invoice</div>' in page
    assert posted.status_code == 403
    coupon.refresh_from_db()
    assert (coupon.value, coupon.duration) == (Decimal("10"), "once")


def test_a_coupon_is_archived_in_the_admin_not_deleted(admin_client: Client, db: None) -> None:
    coupon = coupon_create(
        code="WELCOME10", name="Welcome offer", kind="percentage", value="10", now=NOW
    )

    deleted = admin_client.post(
        reverse("admin:pricing_coupon_delete", args=[coupon.pk]), {"post": "yes"}
    )
    shown = _archive(admin_client, "coupon", [coupon.pk])

    assert deleted.status_code == 403
    assert "Archived 1 coupon." in shown
    coupon.refresh_from_db()
    assert coupon.archived_at is not None


def test_a_viewer_sees_tax_rates_and_coupons_but_cannot_add_or_archive(
    staff_viewer: Client,
) -> None:
    rate = tax_rate_create(code="uk-vat", name="VAT", percentage="20", country="GB")

    for model in ("taxrate", "coupon"):
        assert staff_viewer.get(reverse(f"admin:pricing_{model}_add")).status_code == 403
    listing = staff_viewer.get(reverse("admin:pricing_taxrate_changelist")).content.decode()
    staff_viewer.post(
        reverse("admin:pricing_taxrate_changelist"),
        {"action": "archive", "_selected_action": [str(rate.pk)]},
    )

    assert "uk-vat" in listing and "Archive the selected" not in listing
    rate.refresh_from_db()
    assert rate.archived_at is None


def test_a_plans_tax_rates_show_in_the_admin_and_are_set_in_the_app(
    admin_client: Client, guide: Guide
) -> None:
    rate = tax_rate_create(code="uk-vat", name="VAT", percentage="20", country="GB")
    plan_tax_rates_set(plan=guide.plan, rates=[rate])
    plan_charges_save(
        plan=guide.plan,
        invoice_minimum="50",
        one_time_fees=[{"description": "Setup fee", "amount": "500"}],
        starts="current_period",
        now=NOW,
    )

    page = admin_client.get(_change_url(guide.plan)).content.decode()
    version = guide.plan.versions.order_by("number").last()
    assert version is not None
    version_page = admin_client.get(
        reverse("admin:pricing_planversion_change", args=[version.pk])
    ).content.decode()

    assert '<div class="readonly">VAT 20% (GB)</div>' in page
    assert 'name="tax_rates"' not in page
    assert '<div class="readonly">$50.00</div>' in version_page
    assert '<div class="readonly">Setup fee $500.00</div>' in version_page
