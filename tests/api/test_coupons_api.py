"""Coupons over the native API: making, listing and archiving them, giving
them to customers and taking them back (refusals as 400s naming the field),
and what a read key may do."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.services import customer_create, plan_assign
from invoices.discounts import coupon_redeem
from invoices.models import CouponRedemption
from meters.api_keys import api_key_create
from meters.models import ApiKey
from pricing.coupons import coupon_create
from pricing.models import Coupon
from tests.api.conftest import Api, errors, fields
from tests.factories import Guide

pytestmark = pytest.mark.django_db

WELCOME = {"code": "WELCOME10", "name": "Welcome offer", "kind": "percentage", "value": "10"}
FIVE_OFF_CALLS = {
    "code": "CALLS5",
    "name": "Five off calls",
    "kind": "fixed",
    "value": "5.00",
    "currency": "usd",
    "duration": "repeating",
    "duration_periods": 3,
    "meters": ["api-calls"],
    "max_redemptions": 100,
    "redeem_by": "2025-06-01T00:00:00Z",
}


def welcome(now: datetime, **given: object) -> Coupon:
    fields: dict[str, object] = {
        "code": "WELCOME10",
        "name": "Welcome offer",
        "kind": "percentage",
        "value": Decimal(10),
        "now": now,
    }
    return coupon_create(**(fields | given))  # type: ignore[arg-type]


def test_creating_a_percentage_coupon_answers_it_as_stored(api: Api, now: datetime) -> None:
    response = api.post("/coupons", WELCOME)

    assert response.status_code == 201
    answer = response.json()
    assert answer["id"] == Coupon.objects.get().pk
    assert {k: answer[k] for k in ("code", "description", "kind", "value", "currency")} == {
        "code": "WELCOME10",
        "description": "10% off, once",
        "kind": "percentage",
        "value": "10",
        "currency": "",
    }
    assert (answer["duration"], answer["duration_periods"], answer["meters"]) == ("once", None, [])
    assert (answer["max_redemptions"], answer["redemptions"], answer["archived_at"]) == (
        None,
        0,
        None,
    )


def test_a_fixed_coupon_on_a_meter_keeps_its_currency_and_limits(api: Api, guide: Guide) -> None:
    response = api.post("/coupons", FIVE_OFF_CALLS)

    assert response.status_code == 201
    answer = response.json()
    assert (answer["value"], answer["currency"], answer["meters"]) == ("5.00", "USD", ["api-calls"])
    assert answer["description"] == "$5.00 off, for 3 invoices"
    assert (answer["max_redemptions"], answer["redeem_by"]) == (100, "2025-06-01T00:00:00Z")
    assert [m.api_name for m in Coupon.objects.get().meters.all()] == ["api-calls"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"code": "NO SPACES"}, "code"),
        ({"name": ""}, "name"),
        ({"kind": "bogof"}, "kind"),
        ({"value": "0"}, "value"),
        ({"value": "101"}, "value"),
        ({"value": "abc"}, "value"),
        ({"kind": "fixed", "value": "5"}, "currency"),
        ({"kind": "fixed", "value": "5.001", "currency": "USD"}, "value"),
        ({"kind": "fixed", "value": "5.5", "currency": "JPY"}, "value"),
        ({"duration": "repeating"}, "duration_periods"),
        ({"duration": "sometimes"}, "duration"),
        ({"max_redemptions": 0}, "max_redemptions"),
        ({"redeem_by": "2025-03-01T00:00:00Z"}, "redeem_by"),
        ({"meters": ["no-such-meter"]}, "meters"),
    ],
)
def test_a_broken_rule_is_a_400_naming_the_field(
    api: Api, guide: Guide, change: dict[str, object], field: str
) -> None:
    response = api.post("/coupons", WELCOME | change)

    assert response.status_code == 400
    assert fields(response) == [field]
    assert not Coupon.objects.exists()


@pytest.mark.parametrize("field", ["max_redemptions", "duration_periods"])
def test_a_count_beyond_what_is_stored_is_the_wrong_size(
    api: Api, now: datetime, field: str
) -> None:
    response = api.post("/coupons", WELCOME | {"duration": "repeating", field: 10**20})

    assert response.status_code == 422
    assert fields(response) == [field]
    assert not Coupon.objects.exists()


def test_a_taken_code_is_refused_ignoring_case(api: Api, now: datetime) -> None:
    welcome(now)

    response = api.post("/coupons", WELCOME | {"code": "welcome10"})

    assert response.status_code == 400
    assert errors(response) == [("code", "A coupon with the code “welcome10” already exists.")]


def test_coupons_are_listed_by_code_with_how_often_they_were_given(
    api: Api, guide: Guide, now: datetime
) -> None:
    given = welcome(now)
    welcome(now, code="ANOTHER")
    coupon_redeem(coupon=given, customer=guide.customer, now=now, actor="test")

    listed = api.get("/coupons").json()

    assert [(c["code"], c["redemptions"]) for c in listed] == [("ANOTHER", 0), ("WELCOME10", 1)]
    assert api.get(f"/coupons/{given.pk}").json()["redemptions"] == 1
    assert api.get("/coupons/999999").status_code == 404


def test_archiving_a_coupon_stops_it_being_given(api: Api, guide: Guide, now: datetime) -> None:
    coupon = welcome(now)

    archived = api.post(f"/coupons/{coupon.pk}/archive")
    given = api.post(f"/customers/{guide.customer.pk}/coupons", {"coupon": "WELCOME10"})

    assert archived.json()["archived_at"] == "2025-03-15T12:00:00Z"
    assert given.status_code == 400
    assert errors(given) == [
        ("coupon", "The coupon WELCOME10 is archived: it can no longer be given.")
    ]


# A customer's coupons


def test_giving_a_customer_a_coupon_answers_the_redemption(
    api: Api, guide: Guide, now: datetime
) -> None:
    welcome(now)

    response = api.post(f"/customers/{guide.customer.pk}/coupons", {"coupon": "welcome10"})

    assert response.status_code == 201
    answer = response.json()
    redemption = CouponRedemption.objects.get()
    assert answer["id"] == redemption.pk
    assert (answer["coupon"], answer["description"], answer["assignment"]) == (
        "WELCOME10",
        "10% off, once",
        None,
    )
    assert (answer["redeemed_at"], answer["removed_at"], answer["invoices_discounted"]) == (
        "2025-03-15T12:00:00Z",
        None,
        0,
    )
    assert answer["created_by"].startswith("key api tests")
    listed = api.get(f"/customers/{guide.customer.pk}/coupons").json()
    assert [r["id"] for r in listed] == [redemption.pk]


def test_a_coupon_can_be_given_to_one_assignment(api: Api, guide: Guide, now: datetime) -> None:
    welcome(now)
    body = {"coupon": "WELCOME10", "assignment": guide.assignment.pk}

    answer = api.post(f"/customers/{guide.customer.pk}/coupons", body).json()

    assert answer["assignment"] == guide.assignment.pk
    assert CouponRedemption.objects.get().assignment == guide.assignment


def test_giving_refusals_name_coupon_or_assignment(api: Api, guide: Guide, now: datetime) -> None:
    welcome(now)
    url = f"/customers/{guide.customer.pk}/coupons"
    other = customer_create(name="Other", customer_id="other")
    theirs = plan_assign(customer=other, plan=guide.plan, start_at=guide.assignment.start_at)

    unknown = api.post(url, {"coupon": "NOPE"})
    not_theirs = api.post(url, {"coupon": "WELCOME10", "assignment": theirs.pk})
    no_such = api.post(url, {"coupon": "WELCOME10", "assignment": 999999})
    api.post(url, {"coupon": "WELCOME10"})
    twice = api.post(url, {"coupon": "WELCOME10"})

    assert errors(unknown) == [("coupon", "No coupon has the code “NOPE”.")]
    assert errors(not_theirs) == [("assignment", "Choose one of this customer's plan assignments.")]
    assert errors(no_such) == [("assignment", "No plan assignment with id 999999.")]
    assert errors(twice) == [("coupon", "Test Customer already has the coupon WELCOME10.")]
    assert [r.status_code for r in (unknown, not_theirs, no_such, twice)] == [400] * 4
    assert CouponRedemption.objects.count() == 1


@pytest.mark.parametrize("code", ["NUL\x00", "\ud800", "x" * 10_000])
def test_a_code_no_coupon_could_have_is_a_400_not_a_server_error(
    api: Api, guide: Guide, now: datetime, code: str
) -> None:
    response = api.post(f"/customers/{guide.customer.pk}/coupons", {"coupon": code})

    assert response.status_code == 400
    assert fields(response) == ["coupon"]


def test_a_meter_name_no_meter_could_have_is_a_400_not_a_server_error(
    api: Api, guide: Guide
) -> None:
    response = api.post("/coupons", WELCOME | {"meters": ["api-calls", "a\x00b"]})

    assert response.status_code == 400
    assert errors(response) == [("meters", "no meter with the API name 'a\\x00b'")]
    assert not Coupon.objects.exists()


def test_a_big_assignment_id_is_a_400_on_assignment(api: Api, guide: Guide, now: datetime) -> None:
    welcome(now)
    body = {"coupon": "WELCOME10", "assignment": 10**30}

    response = api.post(f"/customers/{guide.customer.pk}/coupons", body)

    assert (response.status_code, fields(response)) == (400, ["assignment"])


def test_a_fixed_coupon_in_another_currency_is_refused(
    api: Api, guide: Guide, now: datetime
) -> None:
    welcome(now, code="EURO5", kind="fixed", value=Decimal(5), currency="EUR")

    response = api.post(f"/customers/{guide.customer.pk}/coupons", {"coupon": "EURO5"})

    assert response.status_code == 400
    assert fields(response) == ["coupon"]


def test_an_unknown_customer_is_a_404(api: Api, now: datetime) -> None:
    welcome(now)

    assert api.post("/customers/999999/coupons", {"coupon": "WELCOME10"}).status_code == 404
    assert api.get("/customers/999999/coupons").status_code == 404


def test_removing_a_coupon_stops_it_and_it_can_be_given_again(
    api: Api, guide: Guide, now: datetime
) -> None:
    welcome(now)
    url = f"/customers/{guide.customer.pk}/coupons"
    given = api.post(url, {"coupon": "WELCOME10"}).json()

    removed = api.post(f"/coupon-redemptions/{given['id']}/remove")
    again = api.post(url, {"coupon": "WELCOME10"})

    assert removed.status_code == 200
    assert removed.json()["removed_at"] == "2025-03-15T12:00:00Z"
    assert removed.json()["removed_by"].startswith("key api tests")
    assert again.status_code == 201
    listed = api.get(url).json()
    assert sorted((r["removed_at"] is None) for r in listed) == [False, True]
    assert api.post("/coupon-redemptions/999999/remove").status_code == 404


def test_a_read_key_lists_coupons_but_cannot_give_or_change_them(
    guide: Guide, now: datetime
) -> None:
    coupon = welcome(now)
    redemption = coupon_redeem(coupon=coupon, customer=guide.customer, now=now, actor="test")
    _, raw = api_key_create(name="reader", scope=ApiKey.Scope.READ)
    reader = Api(raw)

    assert reader.get("/coupons").status_code == 200
    assert reader.get(f"/coupons/{coupon.pk}").status_code == 200
    assert reader.get(f"/customers/{guide.customer.pk}/coupons").status_code == 200
    assert reader.post("/coupons", WELCOME | {"code": "OTHER"}).status_code == 403
    assert reader.post(f"/coupons/{coupon.pk}/archive").status_code == 403
    given = reader.post(f"/customers/{guide.customer.pk}/coupons", {"coupon": "WELCOME10"})
    assert given.status_code == 403
    assert reader.post(f"/coupon-redemptions/{redemption.pk}/remove").status_code == 403
    assert Coupon.objects.filter(archived_at__isnull=True).count() == 1
    assert CouponRedemption.objects.get().removed_at is None


def test_the_lists_take_the_same_queries_however_many_coupons(
    api: Api, guide: Guide, now: datetime
) -> None:
    def queries(path: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get(path).status_code == 200
        return len(captured)

    coupons_url, given_url = "/coupons", f"/customers/{guide.customer.pk}/coupons"
    coupon_redeem(coupon=welcome(now), customer=guide.customer, now=now, actor="test")
    api.get(coupons_url)  # the key's first use is recorded once
    one = queries(coupons_url), queries(given_url)
    for n in range(5):
        coupon = welcome(now, code=f"MORE{n}", meters=[guide.api_calls])
        coupon_redeem(coupon=coupon, customer=guide.customer, now=now, actor="test")

    assert (queries(coupons_url), queries(given_url)) == one
    assert len(api.get(given_url).json()) == 6
