"""The interactive docs page in a real Chromium: Swagger UI loads from our own
static files (no request leaves the server), lists every operation, and
calls the API with a key entered in its Authorize dialog."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import chromium_path

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Playwright's sync API runs an event loop in this thread (as in tests/browser).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def page(live_server: Any) -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        if os.environ.get("TALLY_REQUIRE_BROWSER"):
            pytest.fail("TALLY_REQUIRE_BROWSER is set but no chromium is installed")
        pytest.skip("no Chromium found (apt-get install chromium, or set CHROMIUM_PATH)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(base_url=live_server.url)
        context.set_default_timeout(15_000)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def test_swagger_ui_runs_from_our_static_files_and_calls_the_api(
    page: Any, live_server: Any, api_key: str
) -> None:
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))

    page.goto("/api/v1/docs")
    page.wait_for_selector(".opblock")

    assert page.locator(".opblock").count() == 60
    assert hosts == {urlsplit(live_server.url).netloc}

    page.click("button.authorize")
    page.fill(".modal-ux input[type=text]", api_key)
    page.click(".modal-ux button.authorize")
    page.click(".modal-ux button.btn-done")
    page.click("#operations-meters-meter_list")
    page.click("button.try-out__btn")
    page.click("button.execute")
    page.wait_for_selector(".live-responses-table tbody .response-col_status")

    status = page.locator(".live-responses-table tbody .response-col_status").first
    assert status.inner_text().strip() == "200"
