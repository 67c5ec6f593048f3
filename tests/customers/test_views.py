"""The customers screens: list, create, a customer's page, and putting a
customer on a plan (or taking them off it)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django import Settings
from time_machine import TimeMachineFixture

from customers.models import Customer, PlanAssignment
from customers.services import plan_assign
from pricing.models import Plan
from tests.factories import CustomerFactory, PlanFactory
from tests.fixtures import (
    HTMX,
    assert_login_redirect,
    element,
    field_errors,
    form_errors,
    login,
    page,
    table_rows,
    text,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
MAR = datetime(2025, 3, 1, tzinfo=UTC)
APR = datetime(2025, 4, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen_clock(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(NOW, tick=False)


def detail_url(customer: Customer) -> str:
    return reverse("customers:detail", args=[customer.pk])


def assign_url(customer: Customer) -> str:
    return reverse("customers:assign_plan", args=[customer.pk])


def test_anonymous_users_are_sent_to_log_in_from_every_customers_page(
    client: Client, customer: Customer, plan: Plan
) -> None:
    assignment = plan_assign(customer=customer, plan=plan, start_at=MAR)
    end_url = reverse("customers:end_assignment", args=[customer.pk, assignment.pk])
    for method, url in [
        ("get", reverse("customers:list")),
        ("get", reverse("customers:create")),
        ("post", reverse("customers:create")),
        ("get", detail_url(customer)),
        ("post", assign_url(customer)),
        ("post", end_url),
    ]:
        assert_login_redirect(getattr(client, method)(url), url)

    assert PlanAssignment.objects.get().end_at is None


def test_a_logged_in_billing_user_sees_the_customers(client: Client, customer: Customer) -> None:
    response = login(client).get(reverse("customers:list"))

    assert response.status_code == 200
    assert "Test Customer" in text(element(page(response), "customer-table"))


def test_customer_list_shows_each_customers_current_plan(
    admin_client: Client, customer: Customer, plan: Plan
) -> None:
    plan_assign(customer=customer, plan=plan, start_at=MAR)
    CustomerFactory.create(name="Acme", customer_id="acme")

    html = page(admin_client.get(reverse("customers:list")))

    assert "<html" in html
    rows = table_rows(element(html, "customer-table"))
    assert rows[0][:3] == ["Customer name", "Customer ID", "Current plan"]
    assert [row[:3] for row in rows[1:]] == [
        ["Acme", "acme", "No plan"],
        ["Test Customer", "test-customer", "Chatbot Usage Plan"],
    ]


def test_customer_list_does_not_show_an_ended_plan_as_current(
    admin_client: Client, customer: Customer, plan: Plan
) -> None:
    plan_assign(
        customer=customer, plan=plan, start_at=MAR, end_at=datetime(2025, 3, 10, tzinfo=UTC)
    )

    rows = table_rows(element(page(admin_client.get(reverse("customers:list"))), "customer-table"))

    assert rows[1][:3] == ["Test Customer", "test-customer", "No plan"]


def test_customer_list_htmx_request_gets_only_the_table(
    admin_client: Client, customer: Customer
) -> None:
    response = admin_client.get(reverse("customers:list"), {"sort": "-customer_id"}, headers=HTMX)

    html = page(response)
    assert 'id="customer-table"' in html
    assert "<html" not in html
    assert "Test Customer" in html
    assert "HX-Request" in response["Vary"]


def test_customer_list_without_customers_invites_creating_one(admin_client: Client) -> None:
    html = page(admin_client.get(reverse("customers:list")))

    assert "No customers yet" in text(element(html, "customer-table"))


def test_create_customer_opens_their_page(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("customers:create"),
        {"name": "Test Customer", "customer_id": " test-customer ", "email": "ops@example.com"},
    )

    customer = Customer.objects.get()
    assert (customer.name, customer.customer_id, customer.email) == (
        "Test Customer",
        "test-customer",
        "ops@example.com",
    )
    assert response["Location"] == detail_url(customer)
    assert "Customer “Test Customer” created." in text(page(admin_client.get(detail_url(customer))))


def test_create_customer_over_htmx_answers_with_a_client_redirect(admin_client: Client) -> None:
    response = admin_client.post(
        reverse("customers:create"), {"name": "Acme", "customer_id": "acme"}, headers=HTMX
    )

    assert response["HX-Redirect"] == detail_url(Customer.objects.get())


def test_a_taken_customer_id_is_refused_next_to_the_field(
    admin_client: Client, customer: Customer
) -> None:
    response = admin_client.post(
        reverse("customers:create"),
        {"name": "Impostor", "customer_id": "test-customer"},
        headers=HTMX,
    )

    html = page(response)
    assert "<html" not in html
    assert field_errors(html, "customer_id") == ["Customer with this Customer ID already exists."]
    assert list(Customer.objects.values_list("name", flat=True)) == ["Test Customer"]


def test_a_blank_customer_id_is_refused(admin_client: Client) -> None:
    html = page(admin_client.post(reverse("customers:create"), {"name": "A", "customer_id": "  "}))

    assert field_errors(html, "customer_id") != []
    assert not Customer.objects.exists()


def test_customer_page_shows_who_they_are_and_their_plans(
    admin_client: Client, customer: Customer, plan: Plan
) -> None:
    plan_assign(customer=customer, plan=plan, start_at=MAR)

    html = page(admin_client.get(detail_url(customer)))

    assert "Test Customer" in text(html)
    assert "Customer ID test-customer" in text(html)
    [header, row] = table_rows(element(html, "plans").split("<h3>")[0])
    assert header[:4] == ["Plan", "Start (UTC)", "End", "Status"]
    assert row[:4] == [
        "Chatbot Usage Plan · Monthly, USD",
        "2025-03-01 00:00",
        "open-ended",
        "Active",
    ]


def test_customer_page_without_plans_says_so(admin_client: Client, customer: Customer) -> None:
    PlanFactory.create(name="Chatbot Usage Plan")

    html = page(admin_client.get(detail_url(customer)))

    assert "Not on any plan yet." in text(element(html, "plans"))
    assert "Chatbot Usage Plan" in element(html, "plans")  # offered in the assign form


def test_unknown_customer_is_not_found(admin_client: Client) -> None:
    assert admin_client.get(reverse("customers:detail", args=[999])).status_code == 404


def test_assign_plan_puts_the_customer_on_it(
    admin_client: Client, customer: Customer, plan: Plan
) -> None:
    response = admin_client.post(
        assign_url(customer), {"plan": plan.pk, "start_at": "2025-03-01T00:00"}
    )

    assignment = customer.assignments.get()
    assert (assignment.plan, assignment.start_at, assignment.end_at) == (plan, MAR, None)
    assert response["Location"] == detail_url(customer)
    html = page(admin_client.get(detail_url(customer)))
    assert "Test Customer is now on Chatbot Usage Plan." in text(html)


def test_assign_plan_over_htmx_answers_with_a_client_redirect(
    admin_client: Client, customer: Customer, plan: Plan
) -> None:
    response = admin_client.post(
        assign_url(customer),
        {"plan": plan.pk, "start_at": "2025-03-01T00:00", "end_at": "2025-04-01T00:00"},
        headers=HTMX,
    )

    assert response["HX-Redirect"] == detail_url(customer)
    assert customer.assignments.get().end_at == APR


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain-post"])
def test_an_overlapping_assignment_is_refused_naming_the_other_one(
    admin_client: Client, customer: Customer, plan: Plan, htmx: bool
) -> None:
    plan_assign(customer=customer, plan=plan, start_at=MAR)
    enterprise = PlanFactory.create(name="Enterprise")

    response = admin_client.post(
        assign_url(customer),
        {"plan": enterprise.pk, "start_at": "2025-06-01T00:00"},
        headers=HTMX if htmx else {},
    )

    html = page(response)
    assert response.status_code == (200 if htmx else 400)
    assert ("<html" in html) is not htmx
    assert field_errors(html, "start_at") == [
        "This overlaps the assignment to Chatbot Usage Plan from 2025-03-01 00:00 "
        "with no end date. End that one first."
    ]
    assert list(customer.assignments.values_list("plan__name", flat=True)) == ["Chatbot Usage Plan"]


def test_an_assignment_ending_before_it_starts_is_refused(
    admin_client: Client, customer: Customer, plan: Plan
) -> None:
    response = admin_client.post(
        assign_url(customer),
        {"plan": plan.pk, "start_at": "2025-03-10T00:00", "end_at": "2025-03-01T00:00"},
        headers=HTMX,
    )

    html = page(response)
    assert field_errors(html, "end_at") == ["The end date must be after the start date."]
    assert form_errors(html) == []
    assert not customer.assignments.exists()


def test_an_assignment_needs_a_start_date(
    admin_client: Client, customer: Customer, plan: Plan
) -> None:
    html = page(admin_client.post(assign_url(customer), {"plan": plan.pk}, headers=HTMX))

    assert field_errors(html, "start_at") == ["This field is required."]
    assert not customer.assignments.exists()


def test_ending_an_assignment_sets_its_end(
    admin_client: Client, customer: Customer, plan: Plan
) -> None:
    assignment = plan_assign(customer=customer, plan=plan, start_at=MAR)

    response = admin_client.post(
        reverse("customers:end_assignment", args=[customer.pk, assignment.pk]),
        {"end_at": "2025-03-10T00:00"},
        follow=True,
    )

    assignment.refresh_from_db()
    assert assignment.end_at == datetime(2025, 3, 10, tzinfo=UTC)
    html = page(response)
    assert "The assignment to Chatbot Usage Plan now ends." in text(html)
    [_, row] = table_rows(element(html, "plans").split("<h3>")[0])
    assert row[1:4] == ["2025-03-01 00:00", "2025-03-10 00:00", "Ended"]


def test_ending_an_assignment_before_its_start_is_refused(
    admin_client: Client, customer: Customer, plan: Plan
) -> None:
    assignment = plan_assign(customer=customer, plan=plan, start_at=MAR)

    response = admin_client.post(
        reverse("customers:end_assignment", args=[customer.pk, assignment.pk]),
        {"end_at": "2025-02-01T00:00"},
        follow=True,
    )

    assert "The end date must be after the start date." in text(page(response))
    assignment.refresh_from_db()
    assert assignment.end_at is None


def test_ending_an_assignment_without_a_date_is_refused(
    admin_client: Client, customer: Customer, plan: Plan
) -> None:
    assignment = plan_assign(customer=customer, plan=plan, start_at=MAR)

    response = admin_client.post(
        reverse("customers:end_assignment", args=[customer.pk, assignment.pk]),
        {"end_at": "soon"},
        follow=True,
    )

    assert "Give a valid end date." in text(page(response))
    assignment.refresh_from_db()
    assert assignment.end_at is None


def test_another_customers_assignment_cannot_be_ended_from_here(
    admin_client: Client, customer: Customer, plan: Plan
) -> None:
    other = CustomerFactory.create()
    assignment = plan_assign(customer=other, plan=plan, start_at=MAR)

    response = admin_client.post(
        reverse("customers:end_assignment", args=[customer.pk, assignment.pk]),
        {"end_at": "2025-03-10T00:00"},
    )

    assert response.status_code == 404
    assignment.refresh_from_db()
    assert assignment.end_at is None


def test_assignment_times_show_in_the_billing_time_zone(
    admin_client: Client, customer: Customer, plan: Plan, settings: Settings
) -> None:
    settings.TIME_ZONE = "Europe/Berlin"
    admin_client.post(assign_url(customer), {"plan": plan.pk, "start_at": "2025-03-01T00:00"})

    html = page(admin_client.get(detail_url(customer)))

    [header, row] = table_rows(element(html, "plans").split("<h3>")[0])
    assert header[1] == "Start (Europe/Berlin)"
    assert row[1] == "2025-03-01 00:00"
