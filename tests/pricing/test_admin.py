"""The Django admin shows plans, rates and prices but cannot change them: the
plan pages and the API are the doors that apply the pricing rules. Tested as a
superuser, who would otherwise be allowed everything."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from pricing.models import Plan, PriceCell, Rate
from pricing.selectors import plan_rates
from tests.factories import Guide, guide_setup

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
