"""The permission matrix: every page of the app, for an anonymous visitor, a
user with no role and each of the three roles, by GET and by POST.

One row per URL name says the lowest role that may GET it and the lowest that
may POST it (roles include the ones below them: Viewer < Billing operator <
Admin). Allowed means the view runs (any answer but 403/405), refused means
403 whatever the page shows, a method the view does not serve is 405 for
everyone, and an anonymous visitor is sent to the login page.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from pypdf import PdfReader

from billing_site.roles import ADMIN, OPERATOR, ROLES, VIEWER
from invoices.closing import close_periods
from invoices.credits import credit_grant_create
from invoices.discounts import coupon_redeem
from invoices.models import Invoice
from invoices.services import CreditRequest, credit_note_create
from meters.api_keys import api_key_create
from meters.models import ApiKey
from pricing.coupons import coupon_create
from pricing.services import cost_plan_make_default, plan_create, rate_create
from pricing.taxes import tax_rate_create
from tests.factories import guide_setup
from tests.fixtures import assert_login_redirect, element, login, page, user_with_role

pytestmark = pytest.mark.django_db

ANYONE = "any logged-in user"  # even one with no role
NO_ROLE = "no role"
NOT_SERVED = None  # the view does not answer this method: 405

# URL name: (lowest role that may GET, lowest role that may POST)
MATRIX: dict[str, tuple[str | None, str | None]] = {
    "home": (ANYONE, ANYONE),  # only a redirect to the customers list
    # Meters
    "meters:list": (VIEWER, NOT_SERVED),
    "meters:detail": (VIEWER, NOT_SERVED),
    "meters:rejected": (VIEWER, NOT_SERVED),
    "meters:upload": (NOT_SERVED, OPERATOR),
    "meters:create": (ADMIN, ADMIN),
    "meters:dimension_row": (ADMIN, NOT_SERVED),
    "meters:edit": (ADMIN, ADMIN),
    "meters:api_keys": (VIEWER, ADMIN),  # POST creates a key
    "meters:api_key_revoke": (NOT_SERVED, ADMIN),
    # Pricing
    "pricing:list": (VIEWER, NOT_SERVED),
    "pricing:detail": (VIEWER, NOT_SERVED),
    "pricing:export": (VIEWER, NOT_SERVED),
    "pricing:create": (ADMIN, ADMIN),
    "pricing:edit": (ADMIN, ADMIN),
    "pricing:import": (ADMIN, ADMIN),
    "pricing:add_rate": (ADMIN, ADMIN),
    "pricing:matrix_row": (ADMIN, NOT_SERVED),
    "pricing:edit_rate": (ADMIN, ADMIN),
    "pricing:delete_rate": (NOT_SERVED, ADMIN),
    "pricing:version": (VIEWER, NOT_SERVED),
    "pricing:charges": (NOT_SERVED, ADMIN),
    "pricing:taxes": (NOT_SERVED, ADMIN),
    "pricing:tax_rates": (VIEWER, ADMIN),  # POST creates a tax rate
    "pricing:tax_rate_archive": (NOT_SERVED, ADMIN),
    "pricing:coupons": (VIEWER, ADMIN),  # POST creates a coupon
    "pricing:coupon_archive": (NOT_SERVED, ADMIN),
    # Cost plans (pricing.see_costs, changes also pricing.change_plan): Admin only
    "pricing:cost_plans": (ADMIN, ADMIN),  # POST creates a cost plan
    "pricing:cost_default": (NOT_SERVED, ADMIN),
    "pricing:cost_sheet_import": (ADMIN, ADMIN),
    "pricing:cost_sheet_export": (ADMIN, NOT_SERVED),
    # Customers and their invoices
    "customers:list": (VIEWER, NOT_SERVED),
    "customers:detail": (VIEWER, NOT_SERVED),
    "invoices:customer_billing": (VIEWER, NOT_SERVED),
    "invoices:pdf": (VIEWER, NOT_SERVED),
    "invoices:plan_change": (OPERATOR, OPERATOR),
    "customers:create": (OPERATOR, OPERATOR),
    "customers:edit": (OPERATOR, OPERATOR),
    "customers:assign_plan": (NOT_SERVED, OPERATOR),
    "customers:end_assignment": (NOT_SERVED, OPERATOR),
    # Invoices: operators finalize and record payments, admins correct
    "invoices:list": (VIEWER, NOT_SERVED),
    "invoices:detail": (VIEWER, NOT_SERVED),
    "invoices:document": (VIEWER, NOT_SERVED),
    "invoices:finalize": (NOT_SERVED, OPERATOR),
    "invoices:hold": (NOT_SERVED, OPERATOR),
    "invoices:pay": (NOT_SERVED, OPERATOR),
    "invoices:uncollectible": (NOT_SERVED, ADMIN),
    "invoices:void": (NOT_SERVED, ADMIN),
    "invoices:credit": (NOT_SERVED, ADMIN),
    "invoices:credit_note": (VIEWER, NOT_SERVED),
    "invoices:credit_note_pdf": (VIEWER, NOT_SERVED),
    # Cost and margin: only those who may see costs (pricing.see_costs)
    "invoices:margins": (ADMIN, NOT_SERVED),
    # Prepaid credit: operators grant and void it
    "invoices:credit_grant_create": (NOT_SERVED, OPERATOR),
    "invoices:credit_grant_void": (NOT_SERVED, OPERATOR),
    # Coupons: operators give them to customers and remove them
    "invoices:coupon_redeem": (NOT_SERVED, OPERATOR),
    "invoices:commitment_create": (NOT_SERVED, OPERATOR),
    "invoices:coupon_remove": (NOT_SERVED, OPERATOR),
    # Users and the audit trail
    "users:list": (ADMIN, NOT_SERVED),
    "users:create": (ADMIN, ADMIN),
    "users:role": (NOT_SERVED, ADMIN),
    "users:deactivate": (NOT_SERVED, ADMIN),
    "users:reactivate": (NOT_SERVED, ADMIN),
    "activity": (ADMIN, NOT_SERVED),
}

# Doors with their own checks, tested where they live: the Django admin, and
# the machine APIs, which take API keys (tests/api, tests/meters).
OWN_CHECKS = ("admin/", "api/v1/", "amberflo/", "ingest")
PUBLIC = {"login", "logout"}

LEVEL = {NO_ROLE: 0, ANYONE: 0, VIEWER: 1, OPERATOR: 2, ADMIN: 3}
WHO = ["anonymous", NO_ROLE, *ROLES]


def app_routes() -> dict[str, str]:
    """Every named URL pattern of the app (URL name: route), from the resolver."""
    routes: dict[str, str] = {}

    def walk(patterns: list[Any], prefix: str, namespace: str) -> None:
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if route.startswith(OWN_CHECKS):
                continue
            if isinstance(entry, URLResolver):
                inner = ":".join(n for n in (namespace, entry.namespace) if n)
                walk(entry.url_patterns, route, inner)
            elif isinstance(entry, URLPattern) and entry.name and entry.name not in PUBLIC:
                routes[f"{namespace}:{entry.name}" if namespace else entry.name] = route

    walk(get_resolver().url_patterns, "", "")
    return routes


def test_every_url_pattern_has_a_row_in_the_matrix() -> None:
    routes = app_routes()

    assert set(routes) - MATRIX.keys() == set(), "add a row to MATRIX for these"
    assert MATRIX.keys() - set(routes) == set(), "these rows name no URL pattern"


@pytest.fixture
def url_kwargs() -> dict[str, dict[str, int | str]]:
    """Real objects for every path parameter, by URL namespace."""
    guide = guide_setup(timezone.now())
    # An issued invoice (its period closed 40 days on) and a credit note on it.
    later = timezone.now() + timedelta(days=40)
    close_periods(now=later)
    invoice = Invoice.objects.exclude(status="draft").earliest("period_start")
    note = credit_note_create(
        invoice=invoice,
        requests=[CreditRequest(None, Decimal("0.01"))],
        reason="matrix",
        now=later,
        actor="test",
    )
    grant = credit_grant_create(
        customer=guide.customer,
        amount=Decimal("0.05"),
        currency="USD",
        description="Matrix credit",
        effective_at=later,
        now=later,
        actor="test",
    )
    key, _ = api_key_create(name="matrix")
    tax_rate = tax_rate_create(code="matrix-vat", name="VAT", percentage="20")
    coupon = coupon_create(code="MATRIX", name="Matrix", kind="percentage", value="10", now=later)
    redemption = coupon_redeem(coupon=coupon, customer=guide.customer, now=later, actor="test")
    other = user_with_role(VIEWER)
    cost = plan_create(name="Matrix costs", billing_period="monthly", currency="USD", kind="cost")
    return {
        "meters": {"pk": guide.llm_tokens.pk},
        "meters:api_key_revoke": {"pk": key.pk},
        "pricing:tax_rate_archive": {"pk": tax_rate.pk},
        "pricing:coupon_archive": {"pk": coupon.pk},
        "pricing:cost_default": {"pk": cost.pk},
        "pricing:cost_sheet_import": {"pk": cost.pk},
        "pricing:cost_sheet_export": {"pk": cost.pk, "ext": "csv"},
        "pricing": {"pk": guide.plan.pk, "rate_pk": guide.token_rate.pk, "number": 1},
        "customers": {"pk": guide.customer.pk, "assignment_pk": guide.assignment.pk},
        "invoices": {"pk": invoice.pk},
        "invoices:customer_billing": {"pk": guide.customer.pk},
        "invoices:pdf": {"pk": guide.customer.pk},
        "invoices:plan_change": {"pk": guide.customer.pk, "assignment_pk": guide.assignment.pk},
        "invoices:credit_note": {"pk": note.pk},
        "invoices:credit_note_pdf": {"pk": note.pk},
        "invoices:credit_grant_create": {"pk": guide.customer.pk},
        "invoices:credit_grant_void": {"pk": grant.pk},
        "invoices:coupon_redeem": {"pk": guide.customer.pk},
        "invoices:commitment_create": {"pk": guide.customer.pk},
        "invoices:coupon_remove": {"pk": redemption.pk},
        "users": {"pk": other.pk},
    }


def url_for(name: str, objects: dict[str, dict[str, int | str]]) -> str:
    wanted = re.findall(r"<(?:\w+:)?(\w+)>", app_routes()[name])
    given = objects.get(name) or objects.get(name.partition(":")[0], {})
    return reverse(name, kwargs={param: given[param] for param in wanted})


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("name", list(MATRIX))
def test_each_role_gets_exactly_what_its_row_allows(
    client: Client, url_kwargs: dict[str, dict[str, int | str]], name: str, who: str, method: str
) -> None:
    url = url_for(name, url_kwargs)
    if who != "anonymous":
        login(client, role=None if who == NO_ROLE else who)

    response = client.get(url) if method == "GET" else client.post(url)

    lowest = MATRIX[name][0 if method == "GET" else 1]
    if who == "anonymous":
        assert_login_redirect(response, url)
    elif lowest is NOT_SERVED:
        assert response.status_code == 405
    elif LEVEL[who] >= LEVEL[lowest]:
        assert response.status_code not in {403, 405}, response.status_code
        assert response.status_code < 500
    else:
        assert response.status_code == 403


def test_roles_rise_each_holding_the_one_below() -> None:
    viewer, operator, admin = ROLES.values()

    assert viewer < operator < admin


# What pages show: a button is there only for those who may use it.


def get(client: Client, role: str | None, url: str) -> str:
    login(client, role=role)
    response = client.get(url)
    assert response.status_code == 200
    return page(response)


@pytest.fixture
def guide() -> Any:
    return guide_setup(timezone.now())


def test_a_viewers_plan_page_has_no_add_rate_and_no_delete(client: Client, guide: Any) -> None:
    guide.token_rate.delete()  # so a meter is left to price
    html = get(client, VIEWER, guide.plan.get_absolute_url())

    assert "Add rate" not in html
    assert "Delete rate" not in html
    assert reverse("pricing:edit_rate", args=[guide.plan.pk, guide.api_rate.pk]) not in html
    assert "Export JSON" in html
    assert "Price versions" in html


def test_an_admins_plan_page_has_add_rate_and_delete(client: Client, guide: Any) -> None:
    guide.token_rate.delete()
    html = get(client, ADMIN, guide.plan.get_absolute_url())

    assert "Add rate" in html
    assert "Delete rate" in html
    assert reverse("pricing:edit_rate", args=[guide.plan.pk, guide.api_rate.pk]) in html


def test_an_operator_uploads_on_a_meter_page_but_creates_no_meter(
    client: Client, guide: Any
) -> None:
    detail = get(client, OPERATOR, guide.api_calls.get_absolute_url())
    meters = page(client.get(reverse("meters:list")))

    assert element(detail, "upload") != ""
    assert "Upload events" in detail
    assert "Create meter" not in meters


def test_a_viewer_sees_no_upload_form_and_no_create_buttons(client: Client, guide: Any) -> None:
    detail = get(client, VIEWER, guide.api_calls.get_absolute_url())
    names = ("meters:list", "pricing:list", "customers:list")
    lists = [page(client.get(reverse(name))) for name in names]

    assert element(detail, "upload") == ""
    for html in lists:
        buttons = re.findall(r'class="button[^"]*"[^>]*>([^<]+)<', html)
        assert not [b for b in buttons if "Create" in b or "Import" in b], buttons


def test_a_viewers_customer_page_has_no_assign_or_end_forms(client: Client, guide: Any) -> None:
    html = get(client, VIEWER, guide.customer.get_absolute_url())
    billing = get(client, VIEWER, reverse("invoices:customer_billing", args=[guide.customer.pk]))

    assert "Assign plan" not in html
    assert "End assignment" not in html
    assert "Download PDF" in billing


@pytest.mark.parametrize(
    ("role", "buttons"),
    [
        (VIEWER, []),
        (OPERATOR, ["Mark paid"]),
        (ADMIN, ["Mark paid", "Void invoice", "Mark uncollectible", "Issue credit note"]),
    ],
)
def test_an_issued_invoice_offers_each_role_only_its_actions(
    client: Client, guide: Any, role: str, buttons: list[str]
) -> None:
    close_periods(now=timezone.now() + timedelta(days=40))
    invoice = Invoice.objects.exclude(status="draft").earliest("period_start")

    html = get(client, role, invoice.get_absolute_url())

    found = re.findall(r'<button type="submit"[^>]*>([^<]+)</button>', html)
    assert [b for b in found if b != "Log out"] == buttons
    assert "Download PDF" in html


def test_an_operators_customer_page_assigns_and_ends_plans(client: Client, guide: Any) -> None:
    html = get(client, OPERATOR, guide.customer.get_absolute_url())

    assert "Assign plan" in html
    assert "End assignment" in html
    assert "Create customer" in page(client.get(reverse("customers:list")))


@pytest.mark.parametrize(("role", "shown"), [(VIEWER, False), (OPERATOR, False), (ADMIN, True)])
def test_only_an_admin_sees_how_to_create_or_revoke_an_api_key(
    client: Client, role: str, shown: bool
) -> None:
    api_key_create(name="backend")

    html = get(client, role, reverse("meters:api_keys"))

    assert ("Create API key" in html) is shown
    assert ("Revoke" in html) is shown
    assert "backend" in html


PRICING_NAV = ["Meters", "Pricing", "Coupons", "Tax rates"]


@pytest.mark.parametrize(
    ("role", "links"),
    [
        (None, []),
        (VIEWER, [*PRICING_NAV, "Customers", "Invoices", "API keys"]),
        (OPERATOR, [*PRICING_NAV, "Customers", "Invoices", "API keys"]),
        (
            ADMIN,
            [*PRICING_NAV, "Customers", "Invoices", "Margins", "API keys", "Users", "Activity"],
        ),
    ],
)
def test_the_navigation_links_only_what_the_role_may_see(
    client: Client, role: str | None, links: list[str]
) -> None:
    login(client, role=role)

    assert re.findall(r"<a [^>]*>([^<]+)</a>", _nav(client)) == links


def _nav(client: Client) -> str:
    # Any page carries the nav; a user with no role may still open the login page.
    html = page(client.get(reverse("login")))
    found = re.search(r'<nav class="mainnav".*?</nav>', html, re.S)
    assert found, html
    return found.group(0)


@pytest.mark.parametrize(
    ("name", "current"),
    [
        ("pricing:list", "Pricing"),
        ("pricing:coupons", "Coupons"),
        ("pricing:tax_rates", "Tax rates"),
    ],
)
def test_the_navigation_marks_the_pricing_page_shown(
    client: Client, name: str, current: str
) -> None:
    html = get(client, VIEWER, reverse(name))

    nav = re.search(r'<nav class="mainnav".*?</nav>', html, re.S)
    assert nav is not None
    assert re.findall(r'<a [^>]*aria-current="page"[^>]*>([^<]+)</a>', nav.group(0)) == [current]


@pytest.mark.parametrize(("role", "shown"), [(VIEWER, False), (OPERATOR, False), (ADMIN, True)])
def test_only_an_admin_sees_how_to_make_or_archive_coupons_and_tax_rates(
    client: Client, role: str, shown: bool
) -> None:
    tax_rate_create(code="uk-vat", name="VAT", percentage="20")
    coupon_create(
        code="WELCOME10", name="Welcome", kind="percentage", value="10", now=timezone.now()
    )

    coupons = get(client, role, reverse("pricing:coupons"))
    tax_rates = get(client, role, reverse("pricing:tax_rates"))

    assert ("Create coupon" in coupons, "Archive" in coupons) == (shown, shown)
    assert ("Create tax rate" in tax_rates, "Archive" in tax_rates) == (shown, shown)
    assert "WELCOME10" in coupons and "uk-vat" in tax_rates


# Costs and margins: only for pricing.see_costs (the Admin role).

COST_MARKS = ("Margin", ">Cost<", "negative-margin", "No cost known", "0.78", "0.68")


@pytest.fixture
def costed() -> dict[str, str]:
    """An issued invoice and a draft whose API calls cost $0.78 (10 × $0.0777)
    against $0.10 billed: a margin of −$0.68, amounts found nowhere else."""
    guide = guide_setup(timezone.now())
    plan = plan_create(name="Provider costs", billing_period="monthly", currency="USD", kind="cost")
    rate_create(plan=plan, meter=guide.api_calls, unit_price=Decimal("0.0777"))
    cost_plan_make_default(plan=plan)
    close_periods(now=timezone.now() + timedelta(days=40))
    issued = Invoice.objects.exclude(status="draft").earliest("period_start")
    return {
        "invoice": issued.get_absolute_url(),
        "document": reverse("invoices:document", args=[issued.pk]),
        "billing": reverse("invoices:customer_billing", args=[guide.customer.pk])
        + f"?period={issued.period_start:%Y-%m-%d}",
        "pdf": reverse("invoices:pdf", args=[guide.customer.pk]),
        "csv": reverse("invoices:list") + "?_export=csv",
        "api": f"/api/v1/invoices/{issued.pk}",
    }


def _visible(response: Any) -> str:
    if response["Content-Type"] == "application/pdf":
        return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    return str(response.content.decode())


@pytest.mark.parametrize("role", [VIEWER, OPERATOR])
def test_viewers_and_operators_see_no_cost_anywhere(
    client: Client, costed: dict[str, str], role: str
) -> None:
    login(client, role=role)
    for door in ["invoice", "document", "billing", "pdf", "csv"]:
        response = client.get(costed[door])
        assert response.status_code == 200, door
        shown = _visible(response)
        assert [mark for mark in COST_MARKS if mark in shown] == [], door
    nav = get(client, role, reverse("invoices:list"))
    assert reverse("invoices:margins") not in nav


def test_an_admin_sees_the_costs_on_the_pages_but_never_in_the_pdf_csv_or_json(
    client: Client, costed: dict[str, str]
) -> None:
    login(client, role=ADMIN)
    invoice = _visible(client.get(costed["invoice"]))
    assert "$0.78" in invoice and "negative-margin" in invoice
    assert reverse("invoices:margins") in invoice  # the nav link
    for door in ["document", "pdf", "csv"]:
        shown = _visible(client.get(costed[door]))
        assert [mark for mark in COST_MARKS if mark in shown] == [], door
    _, raw = api_key_create(name="full", scope=ApiKey.Scope.FULL)
    stored = Client(headers={"X-API-KEY": raw}).get(costed["api"])
    assert stored.status_code == 200
    assert "cost" not in stored.content.decode().lower()
    assert "margin" not in stored.content.decode().lower()
