"""Coupons on the customer page: the Coupons card lists what the customer was
given (terms, scope, who gave it, the invoices it discounted, its state), an
operator gives one through the form (errors beside the fields) and removes
one; a viewer only sees."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from time_machine import TimeMachineFixture

from billing_site.roles import ADMIN, OPERATOR, VIEWER
from customers.services import customer_create, plan_assign
from invoices.closing import close_periods
from invoices.discounts import coupon_redeem
from invoices.models import CouponRedemption, Invoice
from pricing.coupons import coupon_archive
from pricing.models import Coupon
from tests.factories import Guide, coupon_make
from tests.fixtures import (
    HTMX,
    assert_login_redirect,
    element,
    field_errors,
    login,
    page,
    table_rows,
    text,
)

pytestmark = pytest.mark.django_db

MARCH = datetime(2025, 3, 1, tzinfo=UTC)
MID_MARCH = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)  # the guide fixture's frozen now
AFTER_GRACE = datetime(2025, 4, 2, 1, tzinfo=UTC)


def coupon(code: str = "WELCOME10", now: datetime = MID_MARCH, **given: object) -> Coupon:
    return coupon_make(now, code, **given)


def give(guide: Guide, offer: Coupon, now: datetime = MID_MARCH) -> CouponRedemption:
    return coupon_redeem(coupon=offer, customer=guide.customer, now=now, actor="ops")


def card(client: Client, guide: Guide) -> str:
    url = reverse("invoices:customer_billing", args=[guide.customer.pk])
    response = client.get(url)
    assert response.status_code == 200
    return element(page(response), "coupons")


def redeem_url(guide: Guide) -> str:
    return reverse("invoices:coupon_redeem", args=[guide.customer.pk])


def remove_url(redemption: CouponRedemption) -> str:
    return reverse("invoices:coupon_remove", args=[redemption.pk])


def options(html: str, field: str) -> list[str]:
    """The options a select of the card offers, as text."""
    select = re.search(rf'<select name="{field}".*?</select>', html, re.S)
    assert select is not None, field
    return [text(o) for o in re.findall(r"<option\b[^>]*>(.*?)</option>", select.group(0), re.S)]


def row(html: str, redemption: CouponRedemption) -> list[str]:
    [cells] = table_rows(element(html, f"redemption-{redemption.pk}"))
    return cells


def issue_march(time_machine: TimeMachineFixture) -> None:
    time_machine.move_to(AFTER_GRACE, tick=False)
    close_periods(now=AFTER_GRACE)


# The card


def test_a_customer_without_coupons_is_told_how_to_give_one(client: Client, guide: Guide) -> None:
    coupon()
    login(client, OPERATOR)

    html = card(client, guide)

    assert "No coupons Give one from the Coupons list below" in text(html)
    assert options(html, "coupon") == [
        "Choose a coupon",
        "WELCOME10 · Welcome offer (10% off, once)",
    ]
    assert options(html, "assignment") == [
        "Whole customer",
        "Chatbot Usage Plan · from 1 Mar 2025",
    ]
    assert "Give coupon" in html


def test_an_operator_gives_a_coupon_and_sees_it_in_the_card(client: Client, guide: Guide) -> None:
    offer = coupon()
    login(client, OPERATOR)

    response = client.post(redeem_url(guide), {"coupon": offer.pk, "assignment": ""}, follow=True)

    assert "WELCOME10 (10% off, once) given to Test Customer." in text(page(response))
    [given] = CouponRedemption.objects.all()
    html = card(client, guide)
    actor = given.created_by
    assert actor.startswith("billing-user")
    assert row(html, given) == [
        "WELCOME10 Welcome offer",
        "10% off, once",
        "Whole customer",
        f"15 Mar 2025, 12:00 UTC by {actor}",
        "0",
        "Active",
        "Remove Remove WELCOME10 from Test Customer? Invoices not yet issued no longer get it; "
        "issued invoices keep their discount. Remove WELCOME10",
    ]
    assert f'href="{offer.get_absolute_url()}"' in html
    # What it holds is no longer offered: with nothing else to give, no form.
    assert "No coupon can be given to Test Customer now" in text(html)
    assert "Give coupon" not in html


def test_the_plain_post_lands_on_the_customer_page_at_the_card(
    client: Client, guide: Guide
) -> None:
    offer = coupon()
    login(client, OPERATOR)

    response = client.post(redeem_url(guide), {"coupon": offer.pk})

    assert response.status_code == 302
    assert response["Location"] == f"{guide.customer.get_absolute_url()}#coupons"


def test_giving_by_htmx_answers_the_card_with_the_coupon(client: Client, guide: Guide) -> None:
    offer = coupon()
    login(client, OPERATOR)

    response = client.post(redeem_url(guide), {"coupon": offer.pk}, headers=HTMX)

    html = page(response)
    assert response.status_code == 200
    assert "<html" not in html
    assert html.lstrip().startswith('<section id="coupons"')
    assert "WELCOME10 (10% off, once) given to Test Customer." in text(html)
    [given] = CouponRedemption.objects.all()
    assert row(html, given)[:3] == ["WELCOME10 Welcome offer", "10% off, once", "Whole customer"]
    # The invoice preview above the card listens, and reloads with the discount.
    assert response["HX-Trigger"] == "billing-changed"
    billing = page(client.get(reverse("invoices:customer_billing", args=[guide.customer.pk])))
    assert 'hx-trigger="billing-changed from:body"' in element(billing, "invoice")
    assert "Welcome offer (WELCOME10)" in text(element(billing, "invoice"))


def test_a_coupon_given_to_an_assignment_names_its_plan_and_dates(
    client: Client, guide: Guide
) -> None:
    offer = coupon(duration="repeating", duration_periods=3)
    login(client, OPERATOR)

    client.post(redeem_url(guide), {"coupon": offer.pk, "assignment": guide.assignment.pk})

    [given] = CouponRedemption.objects.all()
    assert given.assignment == guide.assignment
    cells = row(card(client, guide), given)
    assert cells[1:3] == ["10% off, for 3 invoices", "Chatbot Usage Plan · 1 Mar 2025 – no end"]


def refused(client: Client, guide: Guide, data: Mapping[str, object], field: str) -> list[str]:
    """Post the form by HTMX and plainly: both show the same errors beside
    `field` (HTMX in the swapped card, 200; plain on the billing page, 400)."""
    partial = client.post(redeem_url(guide), data, headers=HTMX)
    whole = client.post(redeem_url(guide), data)
    assert (partial.status_code, whole.status_code) == (200, 400)
    errors = [field_errors(element(page(r), "coupons"), field) for r in (partial, whole)]
    assert errors[0] == errors[1]
    return errors[0]


def test_an_archived_coupon_is_refused_beside_the_field(client: Client, guide: Guide) -> None:
    offer = coupon()
    login(client, OPERATOR)
    html = card(client, guide)  # the page loaded while it could be given
    coupon_archive(coupon=offer, now=MID_MARCH)

    assert "WELCOME10" in " ".join(options(html, "coupon"))
    assert refused(client, guide, {"coupon": offer.pk}, "coupon") == [
        "The coupon WELCOME10 is archived: it can no longer be given."
    ]
    assert not CouponRedemption.objects.exists()
    assert "No coupon can be given to Test Customer now" in text(card(client, guide))


def test_a_fixed_coupon_in_another_currency_is_refused_beside_the_field(
    client: Client, guide: Guide
) -> None:
    offer = coupon("EURO5", kind="fixed", value=Decimal(5), currency="EUR")
    login(client, OPERATOR)

    assert refused(client, guide, {"coupon": offer.pk}, "coupon") == [
        "EURO5 takes EUR off, and Test Customer is billed in USD: it could discount nothing."
    ]
    assert not CouponRedemption.objects.exists()
    # The select does not offer it in the first place; a dollar one it does.
    coupon("DOLLAR5", kind="fixed", value=Decimal(5), currency="USD")
    assert options(card(client, guide), "coupon")[1:] == [
        "DOLLAR5 · Welcome offer ($5.00 off, once)"
    ]


def test_a_coupon_already_given_is_refused_beside_the_field(client: Client, guide: Guide) -> None:
    offer = coupon()
    give(guide, offer)
    login(client, OPERATOR)

    assert refused(client, guide, {"coupon": offer.pk}, "coupon") == [
        "Test Customer already has the coupon WELCOME10."
    ]
    assert CouponRedemption.objects.count() == 1


def test_no_coupon_chosen_is_refused_beside_the_field(client: Client, guide: Guide) -> None:
    login(client, OPERATOR)

    assert refused(client, guide, {"coupon": ""}, "coupon") == ["Choose the coupon to give."]
    for absurd in ("not-a-number", "9" * 30, "-1"):
        assert refused(client, guide, {"coupon": absurd}, "coupon") == [
            "Choose one of the coupons listed."
        ]
    assert refused(client, guide, {"coupon": "", "assignment": "9" * 30}, "assignment") == [
        "Choose one of this customer's plan assignments."
    ]


def test_another_customers_assignment_is_refused_beside_the_field(
    client: Client, guide: Guide
) -> None:
    offer = coupon()
    other = customer_create(name="Other", customer_id="other")
    theirs = plan_assign(customer=other, plan=guide.plan, start_at=MARCH)
    login(client, OPERATOR)

    data = {"coupon": offer.pk, "assignment": theirs.pk}
    assert refused(client, guide, data, "assignment") == [
        "Choose one of this customer's plan assignments."
    ]
    assert not CouponRedemption.objects.exists()


def test_the_select_leaves_out_coupons_that_cannot_be_given(client: Client, guide: Guide) -> None:
    coupon("ARCHIVED")
    coupon_archive(coupon=Coupon.objects.get(code="ARCHIVED"), now=MID_MARCH)
    coupon("HELD")
    give(guide, Coupon.objects.get(code="HELD"))
    coupon("ONEONLY", max_redemptions=1)
    other = customer_create(name="Other", customer_id="other")
    coupon_redeem(
        coupon=Coupon.objects.get(code="ONEONLY"), customer=other, now=MID_MARCH, actor="ops"
    )
    coupon("SOON", redeem_by=MID_MARCH + timedelta(hours=1))
    coupon("OPEN")
    login(client, OPERATOR)

    offered = options(card(client, guide), "coupon")

    assert [o.split(" · ")[0] for o in offered[1:]] == ["OPEN", "SOON"]


# Removing, and what a coupon did


def test_an_operator_removes_a_coupon_with_a_message(client: Client, guide: Guide) -> None:
    given = give(guide, coupon())
    login(client, OPERATOR)

    response = client.post(remove_url(given), follow=True)

    assert "WELCOME10 removed: invoices not yet issued no longer get it." in text(page(response))
    html = card(client, guide)
    given.refresh_from_db()
    assert given.removed_at == MID_MARCH
    assert row(html, given)[-2] == f"Removed 15 Mar 2025 by {given.removed_by}"
    assert remove_url(given) not in html
    # Removed, it can be given again.
    assert options(html, "coupon")[1:] == ["WELCOME10 · Welcome offer (10% off, once)"]


def test_removing_by_htmx_answers_the_card(client: Client, guide: Guide) -> None:
    given = give(guide, coupon())
    login(client, ADMIN)

    response = client.post(remove_url(given), headers=HTMX)
    again = client.post(remove_url(given), headers=HTMX)

    html = page(response)
    assert html.lstrip().startswith('<section id="coupons"')
    assert "WELCOME10 removed" in text(html)
    assert "Removed" in row(html, given)[-2]
    assert "WELCOME10 was already removed." in text(page(again))
    assert response["HX-Trigger"] == "billing-changed"


def test_a_coupon_that_discounted_its_invoice_is_used_up(
    client: Client, guide: Guide, time_machine: TimeMachineFixture
) -> None:
    once = give(guide, coupon())
    forever = give(guide, coupon("LOYAL", name="Loyalty", value=Decimal(50), duration="forever"))
    issue_march(time_machine)
    march = Invoice.objects.get(assignment=guide.assignment, period_start=MARCH)
    assert march.adjustments.filter(kind="discount").exists()
    login(client, VIEWER)

    html = card(client, guide)

    assert row(html, once)[4:6] == ["1", "Used up"]
    assert row(html, forever)[4:6] == ["1", "Active"]


def test_a_void_invoice_gives_its_coupon_use_back(
    client: Client, guide: Guide, time_machine: TimeMachineFixture
) -> None:
    from invoices.services import invoice_void

    once = give(guide, coupon())
    issue_march(time_machine)
    march = Invoice.objects.get(assignment=guide.assignment, period_start=MARCH)
    invoice_void(invoice=march, reason="wrong plan", now=AFTER_GRACE, actor="ops")
    login(client, VIEWER)

    assert row(card(client, guide), once)[4:6] == ["0", "Active"]


# Who may do what


def test_a_viewer_sees_the_coupons_but_cannot_give_or_remove(client: Client, guide: Guide) -> None:
    offer = coupon()
    given = give(guide, offer)
    login(client, VIEWER)

    html = card(client, guide)

    assert row(html, given)[:2] == ["WELCOME10 Welcome offer", "10% off, once"]
    assert "Give coupon" not in html
    assert redeem_url(guide) not in html
    assert remove_url(given) not in html
    assert "No coupons Give one from the Coupons list:" not in text(html)
    assert client.post(redeem_url(guide), {"coupon": offer.pk}).status_code == 403
    assert client.post(remove_url(given)).status_code == 403
    given.refresh_from_db()
    assert given.removed_at is None
    assert CouponRedemption.objects.count() == 1


def test_a_viewer_is_told_there_are_no_coupons_without_the_form(
    client: Client, guide: Guide
) -> None:
    login(client, VIEWER)

    html = card(client, guide)

    assert "No coupons Give one from the Coupons list:" in text(html)
    assert "<form" not in html


def test_anonymous_people_are_sent_to_log_in(client: Client, guide: Guide) -> None:
    given = give(guide, coupon())

    assert_login_redirect(client.post(redeem_url(guide), {}), redeem_url(guide))
    assert_login_redirect(client.post(remove_url(given)), remove_url(given))
    assert client.get(redeem_url(guide)).status_code in (302, 405)


def test_the_coupon_card_costs_the_same_queries_for_one_coupon_or_five(
    client: Client, guide: Guide, time_machine: TimeMachineFixture
) -> None:
    give(guide, coupon("FIRST", duration="forever"))
    issue_march(time_machine)
    login(client, OPERATOR)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            card(client, guide)
        return len(queries)

    few = count()
    for n in range(4):
        give(guide, coupon(f"MORE{n}", now=AFTER_GRACE), now=AFTER_GRACE)
    coupon("SPARE1", now=AFTER_GRACE)
    coupon("SPARE2", now=AFTER_GRACE)
    many = count()

    assert CouponRedemption.objects.count() == 5
    assert few == many
