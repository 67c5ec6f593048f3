from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from customers.models import Customer, PlanAssignment
from customers.services import customer_create
from invoices.demo import guide_seed
from pricing.models import Plan
from pricing.services import plan_create

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 15, 12, 30, tzinfo=UTC)
OVERLAP = "This overlaps the assignment to Chatbot Usage Plan"


@pytest.fixture(autouse=True)
def guide() -> None:
    # Test Customer on Chatbot Usage Plan from 2025-03-01, open-ended.
    guide_seed(now=NOW)


@pytest.fixture
def other_plan() -> Plan:
    return plan_create(name="Other plan", billing_period="monthly", currency="USD")


def when(day: str) -> dict[str, str]:
    return {"0": day, "1": "00:00:00"}


def assignment_data(customer: Customer, plan: Plan, start: str, end: str = "") -> dict[str, str]:
    data = {"customer": str(customer.pk), "plan": str(plan.pk)}
    data |= {f"start_at_{k}": v for k, v in when(start).items()}
    data |= {f"end_at_{k}": v for k, v in (when(end) if end else {"0": "", "1": ""}).items()}
    return data


def inline_data(customer: Customer, rows: list[dict[str, str]], initial: int) -> dict[str, str]:
    """POST data for the customer page with its assignments inline."""
    data = {
        "name": customer.name,
        "email": customer.email,
        "tax_status": customer.tax_status,  # a select: the browser always sends it
        "assignments-TOTAL_FORMS": str(len(rows)),
        "assignments-INITIAL_FORMS": str(initial),
        "assignments-MIN_NUM_FORMS": "0",
        "assignments-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        data |= {f"assignments-{index}-{key}": value for key, value in row.items()}
    return data


def inline_row(
    customer: Customer, plan: Plan, start: str, end: str = "", pk: int | None = None
) -> dict[str, str]:
    row = assignment_data(customer, plan, start, end)
    row["id"] = str(pk) if pk else ""
    return row


def test_customer_pages_open(admin_client: Client) -> None:
    customer = Customer.objects.get()

    for url in (
        reverse("admin:customers_customer_changelist"),
        reverse("admin:customers_customer_add"),
        reverse("admin:customers_customer_change", args=[customer.pk]),
    ):
        assert admin_client.get(url).status_code == 200, url


def test_customer_search(admin_client: Client) -> None:
    customer_create(name="Acme", customer_id="acme", email="billing@acme.test")
    url = reverse("admin:customers_customer_changelist")

    def search(term: str) -> list[str]:
        found = admin_client.get(url, {"q": term}).context["cl"].result_list
        return [c.customer_id for c in found]

    assert search("test-cust") == ["test-customer"]
    assert search("acme.test") == ["acme"]
    assert search("nobody") == []


def test_customer_is_added_with_an_assignment(admin_client: Client, other_plan: Plan) -> None:
    new = Customer(name="Acme", customer_id="acme")
    data = inline_data(new, [inline_row(new, other_plan, "2025-01-01")], initial=0)
    data["customer_id"] = "acme"
    data.pop("assignments-0-customer")

    response = admin_client.post(reverse("admin:customers_customer_add"), data)

    assert response.status_code == 302
    assignment = PlanAssignment.objects.get(customer__customer_id="acme")
    assert (assignment.plan, assignment.start_at) == (other_plan, datetime(2025, 1, 1, tzinfo=UTC))


def test_customer_id_is_read_only_once_created(admin_client: Client) -> None:
    customer = Customer.objects.get()
    url = reverse("admin:customers_customer_change", args=[customer.pk])

    response = admin_client.get(url)

    assert 'name="customer_id"' not in response.content.decode()


def test_assignment_pages_open(admin_client: Client) -> None:
    assignment = PlanAssignment.objects.get()
    changelist = reverse("admin:customers_planassignment_changelist")

    for url in (
        changelist,
        f"{changelist}?plan__id__exact={assignment.plan_id}",
        f"{changelist}?q=test-customer",
        reverse("admin:customers_planassignment_add"),
        reverse("admin:customers_planassignment_change", args=[assignment.pk]),
    ):
        assert admin_client.get(url).status_code == 200, url


def test_assignment_customer_autocomplete(admin_client: Client) -> None:
    response = admin_client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "customers",
            "model_name": "planassignment",
            "field_name": "customer",
            "term": "test",
        },
    )

    assert response.status_code == 200
    assert [r["text"] for r in response.json()["results"]] == ["Test Customer (test-customer)"]


def test_overlapping_assignment_shows_a_form_error(admin_client: Client, other_plan: Plan) -> None:
    customer = Customer.objects.get()

    response = admin_client.post(
        reverse("admin:customers_planassignment_add"),
        assignment_data(customer, other_plan, "2025-04-01"),
    )

    assert response.status_code == 200
    assert OVERLAP in response.content.decode()
    assert PlanAssignment.objects.count() == 1


def test_end_before_start_shows_a_form_error(admin_client: Client, other_plan: Plan) -> None:
    customer = Customer.objects.get()

    response = admin_client.post(
        reverse("admin:customers_planassignment_add"),
        assignment_data(customer, other_plan, "2025-02-01", "2025-01-01"),
    )

    assert response.status_code == 200
    assert "The end date must be after the start date." in response.content.decode()


def test_assignment_before_the_current_one_is_saved(admin_client: Client, other_plan: Plan) -> None:
    customer = Customer.objects.get()

    response = admin_client.post(
        reverse("admin:customers_planassignment_add"),
        assignment_data(customer, other_plan, "2024-12-01", "2025-02-01"),
    )

    assert response.status_code == 302
    assert PlanAssignment.objects.count() == 2


def test_an_assignment_does_not_clash_with_itself(admin_client: Client) -> None:
    assignment = PlanAssignment.objects.select_related("customer", "plan").get()
    url = reverse("admin:customers_planassignment_change", args=[assignment.pk])

    response = admin_client.post(
        url, assignment_data(assignment.customer, assignment.plan, "2025-03-01", "2025-06-01")
    )

    assert response.status_code == 302
    assignment.refresh_from_db()
    assert assignment.end_at == datetime(2025, 6, 1, tzinfo=UTC)


def test_overlapping_inline_assignment_shows_a_form_error(
    admin_client: Client, other_plan: Plan
) -> None:
    current = PlanAssignment.objects.select_related("customer", "plan").get()
    customer = current.customer
    rows = [
        inline_row(customer, current.plan, "2025-03-01", pk=current.pk),
        inline_row(customer, other_plan, "2025-05-01"),
    ]

    response = admin_client.post(
        reverse("admin:customers_customer_change", args=[customer.pk]),
        inline_data(customer, rows, initial=1),
    )

    assert response.status_code == 200
    assert "This overlaps another assignment in this list." in response.content.decode()
    assert PlanAssignment.objects.count() == 1


def test_ending_one_assignment_and_starting_the_next_inline_is_saved(
    admin_client: Client, other_plan: Plan
) -> None:
    current = PlanAssignment.objects.select_related("customer", "plan").get()
    customer = current.customer
    rows = [
        inline_row(customer, current.plan, "2025-03-01", "2025-05-01", pk=current.pk),
        inline_row(customer, other_plan, "2025-05-01"),
    ]

    response = admin_client.post(
        reverse("admin:customers_customer_change", args=[customer.pk]),
        inline_data(customer, rows, initial=1),
    )

    assert response.status_code == 302
    spans = PlanAssignment.objects.order_by("start_at").values_list("plan__name", "end_at")
    assert list(spans) == [
        ("Chatbot Usage Plan", datetime(2025, 5, 1, tzinfo=UTC)),
        ("Other plan", None),
    ]


def test_inline_change_that_would_reach_the_database_in_the_wrong_order(
    admin_client: Client, other_plan: Plan
) -> None:
    # Stored: Other plan Dec 1 - Jan 1, Chatbot from Feb 1. Wanted: Other plan
    # Dec 1 - Dec 15, Chatbot from Dec 15. The final rows do not overlap, but
    # Django saves the Chatbot row first, while the stored Other plan row still
    # reaches Jan 1: refused with a form error instead of an IntegrityError.
    current = PlanAssignment.objects.select_related("customer", "plan").get()
    customer = current.customer
    earlier = PlanAssignment.objects.create(
        customer=customer,
        plan=other_plan,
        start_at=datetime(2024, 12, 1, tzinfo=UTC),
        end_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    rows = [
        inline_row(customer, current.plan, "2024-12-15", pk=current.pk),
        inline_row(customer, other_plan, "2024-12-01", "2024-12-15", pk=earlier.pk),
    ]

    response = admin_client.post(
        reverse("admin:customers_customer_change", args=[customer.pk]),
        inline_data(customer, rows, initial=2),
    )

    assert response.status_code == 200
    assert "This overlaps the assignment to Other plan" in response.content.decode()
    current.refresh_from_db()
    assert current.start_at == datetime(2025, 2, 1, tzinfo=UTC)


def test_two_overlapping_assignments_for_a_new_customer(
    admin_client: Client, other_plan: Plan
) -> None:
    new = Customer(name="New", customer_id="new")
    data = inline_data(
        new,
        [
            inline_row(new, other_plan, "2025-01-01"),
            inline_row(new, other_plan, "2025-02-01", "2025-03-01"),
        ],
        initial=0,
    )
    data["customer_id"] = "new"
    for key in ("assignments-0-customer", "assignments-1-customer"):
        data.pop(key)

    response = admin_client.post(reverse("admin:customers_customer_add"), data)

    assert response.status_code == 200
    assert "This overlaps another assignment in this list." in response.content.decode()
    assert not Customer.objects.filter(customer_id="new").exists()
