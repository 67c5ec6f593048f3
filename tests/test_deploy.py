"""Production posture: DEBUG off unless asked for, `check --deploy` clean in
the documented production configuration (README.md, Running in production),
the production server (gunicorn.conf.py) keeping client connections alive and
serving static files, JSON 500s on the JSON APIs, and the app's own 404 and
500 pages."""

from __future__ import annotations

import http.client
import json
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.templatetags.static import static
from django.test import Client, RequestFactory

from billing_site.api import api
from invoices.pdf import STATIC_BASE, StaticOnlyFetcher
from meters.api_keys import api_key_create
from tests.fixtures import login

ROOT = Path(__file__).resolve().parent.parent


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The documented production environment, and nothing from this shell
    (in particular not the DEBUG the test settings export)."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "billing_site.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,billing.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://billing.example.com",
        "SECURE_COOKIES": "true",
        "SECURE_SSL_REDIRECT": "true",
        "SECURE_HSTS_SECONDS": "31536000",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'production.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def settings_value(env: dict[str, str], name: str) -> subprocess.CompletedProcess[str]:
    code = (
        f"import django; django.setup(); from django.conf import settings; print(settings.{name})"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


# -- settings -----------------------------------------------------------------


def test_check_deploy_is_clean_in_the_documented_production_configuration(
    tmp_path: Path,
) -> None:
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_debug_is_off_when_the_environment_does_not_turn_it_on(tmp_path: Path) -> None:
    result = settings_value(production_env(tmp_path), "DEBUG")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_without_debug_the_app_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["SECRET_KEY"]

    result = manage(env, "check")

    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


@pytest.mark.parametrize(
    "database_url",
    ["postgres://tally@db.invalid:5432/tally", "sqlite:////tmp/tally-deploy-check.sqlite3"],
    ids=["postgresql", "sqlite"],
)
def test_the_database_keeps_connections_for_a_minute_with_health_checks(
    tmp_path: Path, database_url: str
) -> None:
    env = production_env(tmp_path, DATABASE_URL=database_url)
    code = (
        "from django.conf import settings; d = settings.DATABASES['default']; "
        "print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.stdout.strip() == "60 True", result.stderr


def test_pages_carry_a_content_security_policy_without_inline_code(client: Client) -> None:
    response = client.get("/login/")

    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self';" in policy
    assert "style-src 'self';" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy


# -- the production server ----------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def production_server(tmp_path: Path) -> Iterator[int]:
    """`make serve`'s steps: collectstatic, migrate, then gunicorn reading
    gunicorn.conf.py, with one worker of two threads."""
    port = free_port()
    env = production_env(
        tmp_path,
        BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="2",
        GUNICORN_ACCESS_LOG="",
        SECURE_SSL_REDIRECT="false",  # plain http here: no TLS in front
    )
    # Django admin's and Swagger UI's files left out: compressing them takes
    # half a minute, and this page needs only the app's own.
    collect = ("collectstatic", "--noinput", "--ignore", "admin", "--ignore", "ninja")
    for step in (collect, ("migrate", "--noinput")):
        done = manage(env, *step)
        assert done.returncode == 0, done.stderr
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "billing_site.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not start")
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_production_server_keeps_the_client_connection_alive_and_serves_static_files(
    production_server: int,
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", production_server, timeout=10)
    conn.request("GET", "/no-such-page/")
    not_found = conn.getresponse()
    page = not_found.read().decode()
    first_socket = conn.sock

    stylesheet = page.split('<link rel="stylesheet" href="', 1)[1].split('"', 1)[0]
    conn.request("GET", stylesheet)
    css = conn.getresponse()
    body = css.read()

    # Two requests, one socket: the server did not close it after the first.
    assert not_found.getheader("Connection", "").lower() != "close"
    assert conn.sock is first_socket
    assert not css.will_close
    # The app's own 404 page, in its layout, with whitenoise's hashed stylesheet.
    assert not_found.status == 404
    assert "Not found" in page and 'class="topbar"' in page
    assert "URLconf" not in page
    assert stylesheet.startswith("/static/css/app.") and stylesheet != "/static/css/app.css"
    assert css.status == 200
    assert b".topbar" in body
    assert "max-age=315360000" in (css.getheader("Cache-Control") or "")
    conn.close()


def test_the_invoice_pdf_finds_its_stylesheet_under_the_production_static_storage(
    settings: Any, tmp_path: Path
) -> None:
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command(
        "collectstatic", "--noinput", "--ignore", "admin", "--ignore", "ninja", verbosity=0
    )

    # The PDF template's {% static %} now names the collected, hashed copy.
    url = static("css/invoice-pdf.css")
    fetched = StaticOnlyFetcher().fetch(STATIC_BASE.rstrip("/") + url)

    assert url != "/static/css/invoice-pdf.css"
    assert b"@page" in fetched.read()


# -- error pages and JSON 500s -------------------------------------------------


@pytest.mark.django_db
def test_an_unknown_customer_shows_the_apps_own_404_page(client: Client) -> None:
    login(client)

    response = client.get("/customers/999999/")

    page = response.content.decode()
    assert response.status_code == 404
    assert "Not found" in page
    assert 'class="topbar"' in page and "Log out" in page
    assert "URLconf" not in page


@pytest.mark.django_db
@pytest.mark.urls("tests.failing_urls")
def test_an_unexpected_error_on_a_page_shows_the_apps_own_500_page(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    login(client)
    client.raise_request_exception = False

    with caplog.at_level(logging.ERROR):
        response = client.get("/test-failing/page/")

    page = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in page and 'class="topbar"' in page
    assert "secret detail" not in page


@pytest.mark.django_db
@pytest.mark.urls("tests.failing_urls")
def test_an_unexpected_error_on_a_machine_endpoint_answers_json_500_and_is_logged(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    _key, raw = api_key_create(name="sdk")

    with caplog.at_level(logging.ERROR):
        response = client.post(
            "/test-failing/machine/",
            "[]",
            content_type="application/json",
            headers={"X-API-KEY": raw},
        )

    assert response.status_code == 500
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"error": "internal error; it has been logged"}
    assert "secret detail that must not reach the caller" in caplog.text


def test_an_unexpected_error_in_the_native_api_answers_json_500_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    request = RequestFactory().get("/api/v1/customers")

    # What ninja does with any exception a /api/v1/ operation raises.
    with caplog.at_level(logging.ERROR):
        response = api.on_exception(request, RuntimeError("secret detail"))

    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    assert json.loads(response.content) == {
        "errors": [{"field": "", "reason": "internal error; it has been logged"}]
    }
    assert "secret detail" in caplog.text
