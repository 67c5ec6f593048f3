"""How a plan invoices (billing anchor, grace period, payment terms,
late-usage policy) through every door: the plan document's rules (pricing.schema), the create
and edit pages, the plan page, `import_plan` / `export_plan`, the import page
and the admin. The native API has its own file (tests/api/test_plan_terms.py)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from billing_site.roles import OPERATOR
from customers.services import plan_assign
from pricing.models import Plan
from pricing.periods import BillingAnchor, LateUsagePolicy
from pricing.schema import (
    SCHEMA,
    InvoiceTerms,
    Problems,
    plan_to_dict,
    read_plan,
    read_terms,
)
from pricing.selectors import plan_draft
from pricing.services import ANCHOR_PHRASE, plan_create
from pricing.views import LATE_USAGE_SUMMARY
from tests.factories import CustomerFactory, PlanFactory
from tests.fixtures import HTMX, element, field_errors, login, page, table_rows, text

CREATE_URL = reverse("pricing:create")
IMPORT_URL = reverse("pricing:import")
TERMS = {
    "billing_anchor": "anniversary",
    "grace_period_hours": "24",
    "net_terms_days": "30",
    "late_usage_policy": "bill_next",
}
ANNIVERSARY, CALENDAR = BillingAnchor.ANNIVERSARY, BillingAnchor.CALENDAR
BILL_NEXT, REPORT = LateUsagePolicy.BILL_NEXT, LateUsagePolicy.REPORT


def document(**changes: object) -> dict[str, object]:
    return {"schema": SCHEMA, "name": "Pro", "rates": [], **changes}


def problems(raw: dict[str, object]) -> list[str]:
    with pytest.raises(Problems) as refused:
        read_plan(raw, {})
    return [str(p) for p in refused.value.problems]


# The rules (pure)


def test_left_out_the_settings_are_the_plans_defaults() -> None:
    draft = read_plan(document(), {})

    assert draft.terms == InvoiceTerms(
        billing_anchor=ANNIVERSARY,
        grace_period_hours=24,
        net_terms_days=30,
        late_usage_policy=BILL_NEXT,
    )


def test_given_settings_are_read_and_written_back_in_schema_order() -> None:
    raw = document(
        billing_anchor="calendar",
        grace_period_hours=0,
        net_terms_days=365,
        late_usage_policy="report",
    )

    draft = read_plan(raw, {})
    written = plan_to_dict(draft)

    assert draft.terms == InvoiceTerms(
        billing_anchor=CALENDAR, grace_period_hours=0, net_terms_days=365, late_usage_policy=REPORT
    )
    assert list(written) == [
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
    assert read_plan(written, {}) == draft


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("grace_period_hours", -1, "must be a whole number of hours from 0 to 8760 (got -1)"),
        ("grace_period_hours", 8761, "must be a whole number of hours from 0 to 8760 (got 8761)"),
        ("grace_period_hours", "24", "must be a whole number of hours from 0 to 8760 (got '24')"),
        (
            "grace_period_hours",
            Decimal("24.5"),
            "must be a whole number of hours from 0 to 8760 (got Decimal('24.5'))",
        ),
        ("grace_period_hours", True, "must be a whole number of hours from 0 to 8760 (got True)"),
        ("grace_period_hours", None, "must be a whole number of hours from 0 to 8760 (got None)"),
        pytest.param(
            "grace_period_hours",
            10**5000,
            "must be a whole number of hours from 0 to 8760",
            id="a-5000-digit-number",
        ),
        ("net_terms_days", 366, "must be a whole number of days from 0 to 365 (got 366)"),
        ("net_terms_days", -30, "must be a whole number of days from 0 to 365 (got -30)"),
        ("late_usage_policy", "BILL_NEXT", "must be one of bill_next, report (got 'BILL_NEXT')"),
        ("late_usage_policy", 1, "must be one of bill_next, report (got 1)"),
        ("billing_anchor", "Calendar", "must be one of anniversary, calendar (got 'Calendar')"),
        ("billing_anchor", None, "must be one of anniversary, calendar (got None)"),
        ("billing_anchor", ["calendar"], "must be one of anniversary, calendar (got ['calendar'])"),
    ],
)
def test_each_setting_breaking_its_rule_is_refused_by_its_key(
    key: str, value: object, problem: str
) -> None:
    assert problems(document(**{key: value})) == [f"{key}: {problem}"]


def test_the_settings_problems_come_with_every_other_problem() -> None:
    raw = document(
        currency="XXX", billing_anchor="monthly", net_terms_days=400, late_usage_policy="later"
    )

    assert problems(raw) == [
        "currency: must be one of USD, EUR, GBP, CAD, AUD, CHF, JPY, INR, SEK, BRL, KWD",
        "billing_anchor: must be one of anniversary, calendar (got 'monthly')",
        "net_terms_days: must be a whole number of days from 0 to 365 (got 400)",
        "late_usage_policy: must be one of bill_next, report (got 'later')",
    ]


def test_a_change_keeps_what_it_leaves_out() -> None:
    stored = InvoiceTerms(
        billing_anchor=CALENDAR, grace_period_hours=48, net_terms_days=14, late_usage_policy=REPORT
    )

    terms, found = read_terms({"net_terms_days": 0}, stored)

    assert (terms, found) == (
        InvoiceTerms(
            billing_anchor=CALENDAR,
            grace_period_hours=48,
            net_terms_days=0,
            late_usage_policy=REPORT,
        ),
        [],
    )


def test_every_late_usage_policy_and_anchor_has_words_on_the_plan_page() -> None:
    assert set(LATE_USAGE_SUMMARY) == set(LateUsagePolicy)
    assert set(ANCHOR_PHRASE) == set(BillingAnchor)


@pytest.mark.parametrize("name", ["Pro\x00", "Pro\tplan", "Pro\ud800"])
def test_a_plan_name_no_database_could_store_or_page_show_is_refused(name: str) -> None:
    [problem] = problems(document(name=name))

    assert problem.startswith("name: must ")


# The create page


@pytest.mark.django_db
def test_the_create_page_offers_the_defaults_with_their_help(client: Client) -> None:
    html = page(login(client).get(CREATE_URL))

    assert 'value="24"' in element(html, "field-grace_period_hours")
    assert 'value="30"' in element(html, "field-net_terms_days")
    policy = element(html, "field-late_usage_policy")
    assert re.search(r'<input[^>]*value="bill_next"[^>]*checked', policy)
    assert "Bill it on the next invoice" in text(policy)
    assert "Report it without billing" in text(policy)
    assert "waits this many hours for late usage" in text(html)
    assert "A customer's own payment terms replace these." in text(html)
    anchor = element(html, "field-billing_anchor")
    assert re.search(r'<input[^>]*value="anniversary"[^>]*checked', anchor)
    assert "On the assignment's start date (anniversary)" in text(anchor)
    assert "On calendar periods (the first one prorated)" in text(anchor)
    assert "its base fees and minimums prorated" in text(anchor)


@pytest.mark.django_db
def test_a_plan_is_created_with_the_settings_typed(client: Client) -> None:
    fields = {"name": "Pro", "billing_period": "monthly", "currency": "USD"}
    terms = {
        "billing_anchor": "calendar",
        "grace_period_hours": "0",
        "net_terms_days": "14",
        "late_usage_policy": "report",
    }

    response = login(client).post(CREATE_URL, fields | terms, follow=True)

    plan = Plan.objects.get()
    assert (
        plan.billing_anchor,
        plan.grace_period_hours,
        plan.net_terms_days,
        plan.late_usage_policy,
    ) == ("calendar", 0, 14, "report")
    html = page(response)
    assert text(element(html, "invoice-terms")) == (
        "Invoices: net 14 · no grace period · late usage reported, not billed"
    )
    assert text(element(html, "billing-anchor")) == "periods on the calendar"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("grace_period_hours", "-1", "Must be a whole number of hours from 0 to 8760."),
        ("grace_period_hours", "8761", "Must be a whole number of hours from 0 to 8760."),
        ("grace_period_hours", "", "Enter the grace period in hours (0 for none)."),
        ("grace_period_hours", "1.5", "Enter a whole number."),
        ("net_terms_days", "366", "Must be a whole number of days from 0 to 365."),
        ("net_terms_days", "", "Enter the payment terms in days (0: due when issued)."),
        ("net_terms_days", "thirty", "Enter a whole number."),
        (
            "late_usage_policy",
            "later",
            "Select a valid choice. later is not one of the available choices.",
        ),
        (
            "billing_anchor",
            "monthly",
            "Select a valid choice. monthly is not one of the available choices.",
        ),
        ("billing_anchor", "", "This field is required."),
    ],
)
def test_a_bad_setting_on_the_create_page_is_shown_next_to_it(
    client: Client, field: str, value: str, error: str
) -> None:
    fields = {"name": "Pro", "billing_period": "monthly", "currency": "USD"}

    response = login(client).post(CREATE_URL, fields | TERMS | {field: value}, headers=HTMX)

    html = page(response)
    assert response.status_code == 200
    assert field_errors(html, field) == [error]
    assert not Plan.objects.exists()


# The plan page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("terms", "shown"),
    [
        ({}, "Invoices: net 30 · grace 24 h · late usage billed on the next invoice"),
        (
            {"net_terms_days": 0, "grace_period_hours": 72, "late_usage_policy": "report"},
            "Invoices: due when issued · grace 72 h · late usage reported, not billed",
        ),
    ],
)
def test_the_plan_page_says_how_the_plan_invoices(
    client: Client, terms: dict[str, Any], shown: str
) -> None:
    plan = plan_create(name="Pro", billing_period="monthly", currency="USD", **terms)

    html = page(login(client, role=OPERATOR).get(plan.get_absolute_url()))

    assert text(element(html, "invoice-terms")) == shown


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("anchor", "shown"),
    [
        ("anniversary", "Billed monthly · periods on each assignment's start date · prices in USD"),
        ("calendar", "Billed monthly · periods on the calendar · prices in USD"),
    ],
)
def test_the_plan_page_says_where_periods_start(client: Client, anchor: str, shown: str) -> None:
    plan = plan_create(name="Pro", billing_period="monthly", currency="USD", billing_anchor=anchor)

    html = page(login(client, role=OPERATOR).get(plan.get_absolute_url()))

    assert text(element(html, "billing-anchor")) == shown.split(" · ")[1]
    assert shown in text(html)


# The edit page


def edit_url(plan: Plan) -> str:
    return reverse("pricing:edit", args=[plan.pk])


@pytest.fixture
def plan(db: None) -> Plan:
    return plan_create(name="Pro", billing_period="monthly", currency="EUR", grace_period_hours=48)


def test_the_edit_page_shows_the_stored_settings(client: Client, plan: Plan) -> None:
    html = page(login(client).get(edit_url(plan)))

    assert 'value="48"' in element(html, "field-grace_period_hours")
    assert 'value="30"' in element(html, "field-net_terms_days")
    assert "apply from now on" in text(element(html, "terms-apply"))


def test_the_edit_page_changes_the_settings(client: Client, plan: Plan) -> None:
    terms = {
        "billing_anchor": "calendar",
        "grace_period_hours": "12",
        "net_terms_days": "45",
        "late_usage_policy": "report",
    }

    response = login(client).post(edit_url(plan), {"name": "Pro", **terms}, follow=True)

    plan.refresh_from_db()
    assert (plan.name, plan.grace_period_hours, plan.net_terms_days) == ("Pro", 12, 45)
    assert (plan.late_usage_policy, plan.billing_anchor) == (REPORT, CALENDAR)
    html = page(response)
    assert text(element(html, "invoice-terms")) == (
        "Invoices: net 45 · grace 12 h · late usage reported, not billed"
    )
    assert text(element(html, "billing-anchor")) == "periods on the calendar"


def assigned(plan: Plan) -> Plan:
    """The plan with a customer on it since 20 March (the assignment since ended)."""
    customer = CustomerFactory.create()
    plan_assign(
        customer=customer,
        plan=plan,
        start_at=datetime(2025, 3, 20, tzinfo=UTC),
        end_at=datetime(2025, 5, 1, tzinfo=UTC),
    )
    return plan


ANCHOR_FIXED = (
    "This plan has assignments: its periods are fixed. Create a new plan to bill on the calendar."
)


def test_the_anchor_of_a_plan_with_assignments_is_refused_next_to_it(
    client: Client, plan: Plan
) -> None:
    assigned(plan)
    posted = TERMS | {"name": "Renamed", "net_terms_days": "14", "billing_anchor": "calendar"}

    response = login(client).post(edit_url(plan), posted, headers=HTMX)

    html = page(response)
    assert response.status_code == 200
    assert field_errors(html, "billing_anchor") == [ANCHOR_FIXED]
    assert re.search(
        r'<input[^>]*value="calendar"[^>]*checked', element(html, "field-billing_anchor")
    )
    plan.refresh_from_db()
    assert (plan.name, plan.net_terms_days, plan.billing_anchor) == ("Pro", 30, ANNIVERSARY)


def test_a_plan_with_assignments_back_to_its_start_dates_is_refused_in_those_words(
    client: Client, db: None
) -> None:
    plan = assigned(
        plan_create(name="Cal", billing_period="monthly", currency="USD", billing_anchor="calendar")
    )

    response = login(client).post(edit_url(plan), TERMS | {"name": "Cal"})

    assert field_errors(page(response), "billing_anchor") == [
        "This plan has assignments: its periods are fixed. "
        "Create a new plan to bill on each assignment's start date."
    ]
    plan.refresh_from_db()
    assert plan.billing_anchor == CALENDAR


def test_a_plan_with_assignments_keeps_its_anchor_and_changes_the_rest(
    client: Client, plan: Plan
) -> None:
    assigned(plan)

    login(client).post(edit_url(plan), TERMS | {"name": "Renamed", "net_terms_days": "14"})

    plan.refresh_from_db()
    assert (plan.name, plan.net_terms_days, plan.billing_anchor) == ("Renamed", 14, ANNIVERSARY)


def test_a_bad_setting_on_the_edit_page_changes_nothing(client: Client, plan: Plan) -> None:
    bad = {"name": "Renamed", "grace_period_hours": "9000", "net_terms_days": "400"}

    response = login(client).post(edit_url(plan), TERMS | bad)

    html = page(response)
    assert field_errors(html, "grace_period_hours") == [
        "Must be a whole number of hours from 0 to 8760."
    ]
    assert field_errors(html, "net_terms_days") == ["Must be a whole number of days from 0 to 365."]
    plan.refresh_from_db()
    assert (plan.name, plan.grace_period_hours, plan.net_terms_days) == ("Pro", 48, 30)


# import_plan, export_plan and the import page


def export(name: str) -> str:
    out = StringIO()
    call_command("export_plan", name, stdout=out)
    return out.getvalue()


def import_file(tmp_path: Path, raw: object, *args: str) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    call_command("import_plan", str(path), *args, stdout=StringIO(), stderr=StringIO())


@pytest.mark.django_db
def test_export_always_writes_the_settings_and_import_reads_them_back(
    plan: Plan, tmp_path: Path
) -> None:
    exported = json.loads(export("Pro"))

    import_file(tmp_path, exported, "--name", "Pro copy")

    copy = Plan.objects.get(name="Pro copy")
    assert (exported["grace_period_hours"], exported["net_terms_days"]) == (48, 30)
    assert exported["late_usage_policy"] == "bill_next"
    assert exported["billing_anchor"] == "anniversary"
    assert plan_to_dict(plan_draft(copy)) == {**exported, "name": "Pro copy"}


@pytest.mark.django_db
def test_a_calendar_plan_exports_and_imports_on_the_calendar(tmp_path: Path) -> None:
    plan_create(name="Cal", billing_period="quarterly", currency="USD", billing_anchor="calendar")

    exported = json.loads(export("Cal"))
    import_file(tmp_path, exported, "--name", "Cal copy")

    assert exported["billing_anchor"] == "calendar"
    assert Plan.objects.get(name="Cal copy").billing_anchor == CALENDAR


@pytest.mark.django_db
def test_a_file_without_the_settings_imports_with_the_defaults(tmp_path: Path) -> None:
    import_file(tmp_path, document())

    plan = Plan.objects.get()
    assert (
        plan.billing_anchor,
        plan.grace_period_hours,
        plan.net_terms_days,
        plan.late_usage_policy,
    ) == ("anniversary", 24, 30, "bill_next")


@pytest.mark.django_db
def test_import_plan_names_a_bad_setting_and_imports_nothing(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    raw = document(
        grace_period_hours="two days", late_usage_policy="invoice", billing_anchor="monday"
    )
    path.write_text(json.dumps(raw), encoding="utf-8")
    err = StringIO()

    with pytest.raises(CommandError, match="3 problems; nothing was imported"):
        call_command("import_plan", str(path), stdout=StringIO(), stderr=err)

    assert err.getvalue().splitlines() == [
        "billing_anchor: must be one of anniversary, calendar (got 'monday')",
        "grace_period_hours: must be a whole number of hours from 0 to 8760 (got 'two days')",
        "late_usage_policy: must be one of bill_next, report (got 'invoice')",
    ]
    assert Plan.objects.count() == 0


@pytest.mark.django_db
def test_the_import_page_lists_a_bad_setting_where_it_is(client: Client) -> None:
    raw = json.dumps(document(net_terms_days=-1))

    response = login(client).post(IMPORT_URL, {"document": raw}, headers=HTMX)

    assert table_rows(element(page(response), "plan-import"))[1:] == [
        [
            "Net terms days net_terms_days",
            "must be a whole number of days from 0 to 365 (got -1)",
        ]
    ]
    assert not Plan.objects.exists()


# The admin shows them (it changes nothing priced)


@pytest.mark.django_db
def test_the_admin_shows_the_settings(admin_client: Client) -> None:
    plan = PlanFactory.create(
        name="Pro", net_terms_days=15, grace_period_hours=6, billing_anchor="calendar"
    )

    html = page(admin_client.get(reverse("admin:pricing_plan_change", args=[plan.pk])))
    listed = page(admin_client.get(reverse("admin:pricing_plan_changelist")))

    assert "Billing anchor:" in text(html)
    assert "On calendar periods (the first one prorated)" in text(html)
    assert "On calendar periods (the first one prorated)" in text(listed)
    assert "Grace period (hours):" in text(html)
    assert "Payment terms (days):" in text(html)
    assert "Bill it on the next invoice" in text(html)
