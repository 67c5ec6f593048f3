"""The Content-Security-Policy in Chromium: every main page, the admin and the
API docs run under it without a single violation (no inline script or style
the policy would block), and htmx still swaps content."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from tests.browser.conftest import settle
from tests.factories import guide_setup

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_pages_run_under_the_content_security_policy_without_violations(page) -> None:  # type: ignore[no-untyped-def]
    guide = guide_setup(datetime.now(UTC))
    User.objects.create_superuser("operator", "operator@example.com", "a-long-test-password")
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto("/")
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill("a-long-test-password")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("navigation", name="Main").wait_for()

    for url in (
        reverse("customers:list"),
        guide.customer.get_absolute_url(),
        reverse("invoices:customer_billing", args=[guide.customer.pk]),
        reverse("meters:list"),
        guide.llm_tokens.get_absolute_url(),
        reverse("pricing:list"),
        guide.plan.get_absolute_url(),
        reverse("pricing:add_rate", args=[guide.plan.pk]),
        reverse("meters:api_keys"),
        reverse("admin:index"),
        "/api/v1/docs",
    ):
        response = page.goto(url)
        assert response.ok, url
        assert "default-src 'self'" in response.headers["content-security-policy"]
        if url == guide.customer.get_absolute_url():
            # htmx swaps the billing region in after the page has loaded.
            page.locator("#billing #invoice").wait_for()
        settle(page)

    assert violations == []
