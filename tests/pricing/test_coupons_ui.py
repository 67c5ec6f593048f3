"""The coupons page: the list, making a coupon (errors next to the fields),
archiving one, and who may do what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from time_machine import TimeMachineFixture

from billing_site.roles import OPERATOR, VIEWER
from invoices.discounts import coupon_redeem
from pricing.coupons import coupon_create
from pricing.models import Coupon
from tests.factories import CustomerFactory, MeterFactory
from tests.fixtures import HTMX, element, field_errors, login, page, table_rows, text

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
URL = reverse("pricing:coupons")
WELCOME = {"code": "WELCOME10", "name": "Welcome offer", "kind": "percentage", "value": "10"}


def welcome(max_redemptions: int | None = None) -> Coupon:
    return coupon_create(
        code="WELCOME10",
        name="Welcome offer",
        kind="percentage",
        value="10",
        max_redemptions=max_redemptions,
        now=NOW,
    )


@pytest.fixture(autouse=True)
def _frozen_clock(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(NOW, tick=False)


def test_an_empty_list_says_what_coupons_are_for(client: Client) -> None:
    html = page(login(client, VIEWER).get(URL))

    assert "No coupons yet" in text(html)


def test_an_htmx_request_gets_only_the_coupons_region(client: Client) -> None:
    welcome()

    html = page(login(client, VIEWER).get(URL, headers=HTMX))

    assert "<html" not in html and html.lstrip().startswith('<div id="coupons">')
    assert "WELCOME10" in html


def test_the_list_shows_terms_meters_and_redemptions(client: Client) -> None:
    calls = MeterFactory.create(label="API calls")
    given = welcome(max_redemptions=5)
    coupon_create(
        code="CALLS5",
        name="Calls",
        kind="fixed",
        value="5",
        currency="USD",
        duration="repeating",
        duration_periods=3,
        meters=[calls],
        redeem_by=NOW + timedelta(days=30),
        now=NOW,
    )
    coupon_redeem(coupon=given, customer=CustomerFactory.create(), now=NOW, actor="test")

    html = page(login(client, VIEWER).get(URL))

    rows = table_rows(element(html, "coupon-table"))
    assert rows[1][:7] == [
        "CALLS5",
        "Calls",
        "$5.00 off, for 3 invoices",
        "API calls",
        "0",
        "2026-12-28 10:00",
        "Active",
    ]
    assert rows[2][:7] == [
        "WELCOME10",
        "Welcome offer",
        "10% off, once",
        "Whole invoice",
        "1 / 5",
        "No end",
        "Active",
    ]
    assert element(html, f"coupon-{given.pk}")


def test_an_admin_creates_a_coupon_on_chosen_meters(client: Client) -> None:
    calls = MeterFactory.create(label="API calls")
    MeterFactory.create(label="Tokens")
    data = {
        "code": "CALLS5",
        "name": "Calls discount",
        "kind": "fixed",
        "value": "5.00",
        "currency": "USD",
        "duration": "repeating",
        "duration_periods": "3",
        "meters": [str(calls.pk)],
        "max_redemptions": "100",
        "redeem_by": "2026-12-31T23:59",
    }

    response = login(client).post(URL, data, follow=True)

    coupon = Coupon.objects.get()
    assert response.redirect_chain[-1][0] == f"{URL}#coupon-{coupon.pk}"
    assert "Coupon CALLS5 created: $5.00 off, for 3 invoices." in text(page(response))
    assert list(coupon.meters.all()) == [calls]
    assert (coupon.value, coupon.currency, coupon.duration_periods, coupon.max_redemptions) == (
        Decimal("5.00"),
        "USD",
        3,
        100,
    )
    assert coupon.redeem_by is not None and coupon.redeem_by.date().isoformat() == "2026-12-31"


def test_an_htmx_create_answers_with_a_redirect(client: Client) -> None:
    response = login(client).post(URL, {**WELCOME, "duration": "forever"}, headers=HTMX)

    assert response["HX-Redirect"].startswith(URL)
    assert Coupon.objects.get().duration == "forever"


def test_the_services_rules_are_shown_next_to_their_fields(client: Client) -> None:
    welcome()
    bad = {
        "code": "welcome10",
        "name": "Again",
        "kind": "fixed",
        "value": "5",
        "currency": "",
        "duration": "repeating",
        "duration_periods": "",
        "redeem_by": "2026-01-01T00:00",
    }

    response = login(client).post(URL, bad, headers=HTMX)

    html = page(response)
    assert "<html" not in html and 'id="coupons"' in html
    assert field_errors(html, "code") == ["A coupon with the code “welcome10” already exists."]
    assert field_errors(html, "currency")[0].startswith("A fixed amount needs its currency")
    assert field_errors(html, "duration_periods") == ["Say for how many invoices: 1 to 1000."]
    assert field_errors(html, "redeem_by") == ["Choose a time in the future, or leave it blank."]
    assert Coupon.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("value", "150", "A percentage is at most 100."),
        ("value", "abc", "Enter a number."),
        ("value", "1E+999999", "A percentage is at most 100."),
        ("max_redemptions", "0", "From 1 to 2,147,483,647, or leave it blank for no limit."),
        ("max_redemptions", "99999999999999999999", "From 1 to 2,147,483,647"),
        ("duration_periods", "99999999999999999999", "Say for how many invoices: 1 to 1000."),
        ("redeem_by", "tomorrow", "Enter a date and time, like 2026-12-31 23:59."),
        ("kind", "free", "Choose a percentage or a fixed amount."),
        ("duration", "sometimes", "Choose once, for N invoices, or forever."),
        ("meters", "abc", "“abc” is not a valid value."),
        ("meters", "999999", "Choose meters from the list."),
    ],
)
def test_bad_input_is_an_error_next_to_its_field(
    client: Client, field: str, value: str, error: str
) -> None:
    duration = "repeating" if field == "duration_periods" else "once"
    response = login(client).post(URL, {**WELCOME, "duration": duration, field: value})

    assert response.status_code == 200
    assert field_errors(page(response), field)[0].startswith(error)
    assert not Coupon.objects.exists()


def test_an_admin_archives_a_coupon(client: Client) -> None:
    coupon = welcome()

    response = login(client).post(reverse("pricing:coupon_archive", args=[coupon.pk]), follow=True)

    html = page(response)
    coupon.refresh_from_db()
    assert coupon.archived_at == NOW
    assert "Coupon WELCOME10 archived" in text(html)
    assert "Archived" in text(element(html, f"coupon-{coupon.pk}"))


def test_a_viewer_sees_the_coupons_but_no_form_and_cannot_post(client: Client) -> None:
    coupon = welcome()
    login(client, VIEWER)

    html = page(client.get(URL))
    archive = client.post(reverse("pricing:coupon_archive", args=[coupon.pk]))
    create = client.post(URL, {**WELCOME, "code": "OTHER"})

    assert "WELCOME10" in html and "coupon-form" not in html and "Archive" not in html
    assert (archive.status_code, create.status_code) == (403, 403)
    assert Coupon.objects.get().archived_at is None


def test_an_operator_cannot_create_or_archive_a_coupon(client: Client) -> None:
    coupon = welcome()
    login(client, OPERATOR)

    create = client.post(URL, {**WELCOME, "code": "OTHER"})
    archive = client.post(reverse("pricing:coupon_archive", args=[coupon.pk]))

    assert (create.status_code, archive.status_code) == (403, 403)
    assert Coupon.objects.count() == 1
