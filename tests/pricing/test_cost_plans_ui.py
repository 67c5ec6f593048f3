"""Cost plans on screen: the cost plans page, a cost plan's own page, its
price sheets imported and exported, and that only those who may see costs
(Admins) see any of it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from time_machine import TimeMachineFixture

from billing_site.roles import ADMIN, OPERATOR, VIEWER
from customers.services import customer_cost_plan_set
from pricing.models import Plan
from pricing.selectors import plan_rates, rate_draft
from pricing.services import cost_plan_make_default, plan_create, rate_create
from tests.factories import guide_setup
from tests.fixtures import HTMX, element, field_errors, login, page, table_rows, text

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
URL = reverse("pricing:cost_plans")
SHEET = (
    "meter,model,type,unit_price\n"
    "llm-tokens,model a,input,0.000003\n"
    "llm-tokens,model a,output,0.000015\n"
    "llm-tokens,model b,input,0.0000005\n"
)


@pytest.fixture(autouse=True)
def _frozen_clock(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(NOW, tick=False)


def cost_plan(name: str = "Provider costs") -> Plan:
    return plan_create(name=name, billing_period="monthly", currency="USD", kind="cost")


def export_url(plan: Plan, ext: str) -> str:
    return reverse("pricing:cost_sheet_export", args=[plan.pk, ext])


def upload(text_: str, name: str = "sheet.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text_.encode(), content_type="text/csv")


def test_an_empty_list_says_what_a_cost_plan_is(client: Client) -> None:
    html = page(login(client, ADMIN).get(URL))

    assert "No cost plans yet" in text(html)
    assert "what your providers charge you" in text(html)


def test_the_list_shows_rates_default_customers_and_version(client: Client) -> None:
    guide = guide_setup(NOW, events=False)
    plan = cost_plan()
    rate_create(plan=plan, meter=guide.api_calls, unit_price=Decimal("0.0001"))
    cost_plan_make_default(plan=plan)
    own = cost_plan("Dedicated deployment")
    customer_cost_plan_set(customer=guide.customer, plan=own)

    rows = table_rows(element(page(login(client, ADMIN).get(URL)), "cost-plan-table"))[1:]

    assert rows[0][:6] == ["Dedicated deployment", "USD", "0", "", "1", "1"]
    assert rows[1][:6] == ["Provider costs", "USD", "1", "Default", "0", "1"]


def test_an_admin_creates_a_cost_plan_and_lands_on_its_page(client: Client) -> None:
    response = login(client, ADMIN).post(URL, {"name": "Provider costs", "currency": "USD"})

    plan = Plan.objects.get(name="Provider costs")
    assert plan.is_cost
    assert response["Location"] == plan.get_absolute_url()
    html = page(client.get(plan.get_absolute_url()))
    assert "Cost plan" in text(element(html, "cost-plan-badge"))
    assert 'id="invoice-charges"' not in html and 'id="taxes"' not in html
    assert "Import price sheet" in html
    assert plan not in Plan.objects.filter(kind=Plan.Kind.PRICE)


def test_a_missing_or_taken_name_is_shown_beside_the_field(client: Client) -> None:
    cost_plan()
    client = login(client, ADMIN)

    html = page(client.post(URL, {"name": "", "currency": "USD"}, headers=HTMX))
    assert field_errors(html, "name")
    html = page(client.post(URL, {"name": "provider costs", "currency": "USD"}, headers=HTMX))
    assert "already" in " ".join(field_errors(html, "name"))
    html = page(client.post(URL, {"name": "X", "currency": "ZZZ"}, headers=HTMX))
    assert field_errors(html, "currency")
    assert Plan.objects.count() == 1


def test_make_default_moves_the_default(client: Client) -> None:
    first, second = cost_plan("First"), cost_plan("Second")
    cost_plan_make_default(plan=first)

    login(client, ADMIN).post(reverse("pricing:cost_default", args=[second.pk]))

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.is_default_cost, second.is_default_cost) == (False, True)
    html = page(client.get(second.get_absolute_url()))
    assert "Default cost plan" in text(element(html, "default-cost-badge"))


def test_importing_a_csv_sheet_sets_the_matrix_and_keeps_other_meters(client: Client) -> None:
    guide = guide_setup(NOW, events=False)
    plan = cost_plan()
    rate_create(plan=plan, meter=guide.api_calls, unit_price=Decimal("0.0001"))

    response = login(client, ADMIN).post(
        reverse("pricing:cost_sheet_import", args=[plan.pk]), {"sheet-file": upload(SHEET)}
    )

    assert response.status_code == 302
    drafts = {r.meter.api_name: rate_draft(r) for r in plan_rates(plan)}
    assert set(drafts) == {"api-calls", "llm-tokens"}
    assert len(drafts["llm-tokens"].cells) == 3
    html = page(client.get(plan.get_absolute_url()))
    assert "model a" in html and "0.000015" in text(html)


def test_a_sheet_for_a_plan_in_use_takes_effect_from_the_date_given(client: Client) -> None:
    guide = guide_setup(NOW, events=False)
    plan = cost_plan()
    rate_create(plan=plan, meter=guide.api_calls, unit_price=Decimal("0.0001"))
    cost_plan_make_default(plan=plan)

    login(client, ADMIN).post(
        reverse("pricing:cost_sheet_import", args=[plan.pk]),
        {"sheet-file": upload(SHEET), "sheet-effective_from": "2026-12-01T00:00"},
    )

    plan.refresh_from_db()
    assert plan.current_version is not None and plan.current_version.number == 2
    assert plan.current_version.effective_at == datetime(2026, 12, 1, tzinfo=UTC)
    html = page(client.get(plan.get_absolute_url()))
    assert "Usage from 1 Dec 2026, 00:00 on" in text(element(html, "versions"))


def test_a_bad_sheet_lists_every_problem_and_stores_nothing(client: Client) -> None:
    guide_setup(NOW, events=False)
    plan = cost_plan()
    bad = "meter,model,type,unit_price\nllm-tokens,model a,input,abc\nnope,,,1\n"

    html = page(
        login(client, ADMIN).post(
            reverse("pricing:cost_sheet_import", args=[plan.pk]), {"sheet-file": upload(bad)}
        )
    )

    problems = text(element(html, "sheet-import"))
    assert "2 problems" in problems
    assert "row 2.unit_price" in problems and "row 3.meter" in problems
    assert not plan_rates(plan).exists()


def test_a_file_that_is_neither_json_nor_csv_is_refused_beside_the_field(client: Client) -> None:
    plan = cost_plan()

    html = page(
        login(client, ADMIN).post(
            reverse("pricing:cost_sheet_import", args=[plan.pk]),
            {"sheet-file": upload("x", "sheet.txt")},
        )
    )

    assert field_errors(html, "sheet-file") == ["Upload a .json or .csv price sheet."]


def test_export_as_json_and_csv_gives_back_the_sheet(client: Client) -> None:
    guide_setup(NOW, events=False)
    plan = cost_plan()
    client = login(client, ADMIN)
    client.post(reverse("pricing:cost_sheet_import", args=[plan.pk]), {"sheet-file": upload(SHEET)})

    csv_response = client.get(reverse("pricing:cost_sheet_export", args=[plan.pk, "csv"]))
    json_response = client.get(reverse("pricing:cost_sheet_export", args=[plan.pk, "json"]))

    assert csv_response.content.decode() == SHEET
    assert "provider-costs.csv" in csv_response["Content-Disposition"]
    doc = json.loads(json_response.content)
    assert doc["schema"] == "tally.cost-sheet/1" and doc["currency"] == "USD"
    assert doc["rates"][0]["meter"] == "llm-tokens"


def test_the_rate_editor_of_a_cost_plan_in_use_asks_effective_from(client: Client) -> None:
    guide = guide_setup(NOW, events=False)
    plan = cost_plan()
    rate = rate_create(plan=plan, meter=guide.api_calls, unit_price=Decimal("0.0001"))
    cost_plan_make_default(plan=plan)
    client = login(client, ADMIN)

    html = page(client.get(reverse("pricing:edit_rate", args=[plan.pk, rate.pk])))
    assert "Effective from" in html and "Takes effect" not in text(html)

    client.post(
        reverse("pricing:edit_rate", args=[plan.pk, rate.pk]),
        {
            "kind": "usage",
            "meter": guide.api_calls.pk,
            "rate_model": "per_unit",
            "unit_price": "0.0002",
            "effective_from": "2026-12-05T09:30",
        },
    )
    plan.refresh_from_db()
    assert plan.current_version is not None and plan.current_version.number == 2
    assert plan.current_version.effective_at == datetime(2026, 12, 5, 9, 30, tzinfo=UTC)


def test_deleting_a_rate_of_a_cost_plan_in_use_is_dated(client: Client) -> None:
    guide = guide_setup(NOW, events=False)
    plan = cost_plan()
    rate = rate_create(plan=plan, meter=guide.api_calls, unit_price=Decimal("0.0001"))
    cost_plan_make_default(plan=plan)

    login(client, ADMIN).post(
        reverse("pricing:delete_rate", args=[plan.pk, rate.pk]),
        {"effective_from": "2026-12-01T00:00"},
    )

    plan.refresh_from_db()
    assert plan.current_version is not None
    assert plan.current_version.effective_at == datetime(2026, 12, 1, tzinfo=UTC)
    assert not plan_rates(plan).exists()


@pytest.mark.parametrize("role", [VIEWER, OPERATOR])
def test_viewers_and_operators_get_no_cost_plan_page_and_no_link(client: Client, role: str) -> None:
    plan = cost_plan()
    client = login(client, role)

    assert client.get(URL).status_code == 403
    assert client.get(plan.get_absolute_url()).status_code == 404
    assert client.get(reverse("pricing:version", args=[plan.pk, 1])).status_code == 404
    assert client.get(export_url(plan, "csv")).status_code == 403
    assert client.post(reverse("pricing:cost_default", args=[plan.pk])).status_code == 403
    assert "Cost plans" not in page(client.get(reverse("pricing:list")))


def test_an_admin_sees_the_cost_plans_link_on_the_pricing_page(client: Client) -> None:
    html = page(login(client, ADMIN).get(reverse("pricing:list")))

    assert element(html, "cost-plans-link")


def test_the_htmx_form_answers_with_the_region(client: Client) -> None:
    html = page(login(client, ADMIN).post(URL, {"name": ""}, headers=HTMX))

    assert "<html" not in html and html.lstrip().startswith('<div id="cost-plans">')


def test_a_price_plan_has_no_cost_sheet(client: Client) -> None:
    price = plan_create(name="Price", billing_period="monthly", currency="USD")
    client = login(client, ADMIN)

    assert client.get(export_url(price, "csv")).status_code == 404
    assert client.get(export_url(cost_plan(), "xml")).status_code == 404


def test_an_admin_gives_a_customer_their_own_cost_plan_on_the_edit_page(client: Client) -> None:
    guide = guide_setup(NOW, events=False)
    plan = cost_plan("Dedicated deployment")
    client = login(client, ADMIN)
    edit = reverse("customers:edit", args=[guide.customer.pk])
    html = page(client.get(edit))
    assert "Default cost plan" in element(html, "field-cost_plan")

    client.post(edit, {"name": guide.customer.name, "cost_plan": plan.pk})

    guide.customer.refresh_from_db()
    assert guide.customer.cost_plan == plan
    detail = page(client.get(guide.customer.get_absolute_url()))
    assert "Dedicated deployment (the customer's own)" in text(element(detail, "cost-plan"))
    client.post(edit, {"name": guide.customer.name, "cost_plan": ""})
    guide.customer.refresh_from_db()
    assert guide.customer.cost_plan is None


def test_a_price_plan_cannot_be_chosen_as_a_cost_plan(client: Client) -> None:
    guide = guide_setup(NOW, events=False)
    edit = reverse("customers:edit", args=[guide.customer.pk])

    html = page(login(client, ADMIN).post(edit, {"name": "x", "cost_plan": guide.plan.pk}))

    assert field_errors(html, "cost_plan")
    guide.customer.refresh_from_db()
    assert guide.customer.cost_plan is None and guide.customer.name != "x"


def test_an_operator_sees_and_sets_no_cost_plan_on_the_customer(client: Client) -> None:
    guide = guide_setup(NOW, events=False)
    plan = cost_plan()
    customer_cost_plan_set(customer=guide.customer, plan=plan)
    client = login(client, OPERATOR)
    edit = reverse("customers:edit", args=[guide.customer.pk])

    assert "Cost plan" not in page(client.get(edit))
    assert 'id="cost-plan"' not in page(client.get(guide.customer.get_absolute_url()))
    client.post(edit, {"name": guide.customer.name, "cost_plan": ""})
    guide.customer.refresh_from_db()
    assert guide.customer.cost_plan == plan  # kept: the operator's form has no such field


@pytest.mark.parametrize("role", [VIEWER, OPERATOR])
def test_a_cost_plan_file_is_not_exported_to_those_who_may_not_see_costs(
    client: Client, role: str
) -> None:
    plan = cost_plan()
    login(client, role)
    assert client.get(reverse("pricing:export", args=[plan.pk])).status_code == 404
    assert client.get(reverse("pricing:detail", args=[plan.pk])).status_code == 404


def test_a_cost_plan_has_no_invoice_charges_or_taxes_to_set(client: Client) -> None:
    plan = cost_plan()
    login(client, ADMIN)
    for name in ("pricing:charges", "pricing:taxes"):
        assert client.post(reverse(name, args=[plan.pk]), {}).status_code == 404, name
