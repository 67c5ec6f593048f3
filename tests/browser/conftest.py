"""Playwright driving Debian's Chromium against Django's live server.

Skips with a clear reason where no Chromium exists, except in CI
(TALLY_REQUIRE_BROWSER=1), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the test's own ORM
# calls happen between browser steps, never concurrently with them.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(os.environ.get("TALLY_SCREENSHOT_DIR", "test-artifacts"))


# HTMX marks elements while a request is in flight and while new content is
# swapped in and settled (when autofocus moves the caret): wait for none.
HTMX_BUSY = ".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added"


def settle(page, debounce_ms: int = 0) -> None:  # type: ignore[no-untyped-def]
    """Wait until HTMX is idle: no request in flight, none waiting out its
    trigger delay (`debounce_ms`), no swap settling."""
    from playwright.sync_api import expect

    if debounce_ms:
        page.wait_for_timeout(debounce_ms)
    # A locator, not wait_for_function: that evaluates a string in the page,
    # which the Content-Security-Policy (no 'unsafe-eval') refuses.
    expect(page.locator(HTMX_BUSY)).to_have_count(0)


PASSWORD = "a-long-test-password"


def log_in(page, role: str | None = None) -> None:  # type: ignore[no-untyped-def]
    """Create a user, a superuser named "operator" or one with `role` named
    after it ("billing-operator"), and log in as them through the login page,
    as a person would."""
    from django.contrib.auth.models import User

    from billing_site.services import user_create

    username = "operator" if role is None else role.lower().replace(" ", "-")
    if role is None:
        User.objects.create_superuser(username, f"{username}@example.com", PASSWORD)
    else:
        user_create(
            username=username, email=f"{username}@example.com", password=PASSWORD, role=role
        )
    page.goto("/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("navigation", name="Main").wait_for()


def chromium_path() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.failed_call = report.failed


@pytest.fixture
def page(live_server, request) -> Iterator[object]:
    executable = chromium_path()
    if executable is None:
        if os.environ.get("TALLY_REQUIRE_BROWSER"):
            pytest.fail("TALLY_REQUIRE_BROWSER is set but no chromium is installed")
        pytest.skip("no Chromium found (apt-get install chromium, or set CHROMIUM_PATH)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        context = browser.new_context(
            base_url=live_server.url,
            viewport={"width": 1280, "height": 900},
            accept_downloads=True,
        )
        context.set_default_timeout(15_000)
        page = context.new_page()
        try:
            yield page
            if getattr(request.node, "failed_call", False):
                # What the browser showed when the test failed, for diagnosis.
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=ARTIFACTS / f"failed-{request.node.name}.png", full_page=True)
        finally:
            context.close()
            browser.close()
