from __future__ import annotations

import re
import stat
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from customers import admin_user

pytestmark = pytest.mark.django_db

# django-axes checks every login against its lockouts, which needs the request.
LOGIN_REQUEST = RequestFactory().post("/login/")
LOGIN_LINE = re.compile(
    r"^Log in at http://127\.0\.0\.1:8000/ with username (\S+) and password (\S+)$", re.M
)


@pytest.fixture(autouse=True)
def password_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test writes its password file under tmp_path, never into the repo."""
    path = tmp_path / ".admin-password"
    monkeypatch.setattr(admin_user, "ADMIN_PASSWORD_FILE", path)
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    return path


def run(*args: str) -> str:
    out = StringIO()
    call_command("ensure_admin", *args, stdout=out)
    return out.getvalue()


def printed_password(output: str) -> str:
    match = LOGIN_LINE.search(output)
    assert match, output
    assert match[1] == "admin"
    return match[2]


def test_first_run_creates_a_superuser_whose_printed_password_logs_in(password_file: Path) -> None:
    password = printed_password(run())

    user = authenticate(LOGIN_REQUEST, username="admin", password=password)
    assert user is not None
    assert user.is_superuser and user.is_staff
    assert password_file.read_text().strip() == password
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600


def test_second_run_prints_the_same_password() -> None:
    first = printed_password(run())

    second = run()

    assert printed_password(second) == first
    assert "Created" not in second
    assert get_user_model().objects.count() == 1


def test_a_changed_password_is_reported_not_printed() -> None:
    old = printed_password(run())
    user = get_user_model().objects.get(username="admin")
    user.set_password("a new secret one")
    user.save()

    output = run()

    assert old not in output
    assert "admin exists and its password was changed" in output
    assert "manage.py changepassword admin" in output


def test_a_missing_password_file_is_reported(password_file: Path) -> None:
    run()
    password_file.unlink()

    output = run()

    assert "its password is not in" in output
    assert "manage.py changepassword admin" in output


def test_password_file_option(tmp_path: Path, password_file: Path) -> None:
    elsewhere = tmp_path / "elsewhere"

    password = printed_password(run("--password-file", str(elsewhere)))

    assert elsewhere.read_text().strip() == password
    assert not password_file.exists()


def test_given_password_is_used_and_never_written(
    password_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADMIN_PASSWORD", "correct horse battery")

    output = run("--username", "root")

    assert authenticate(LOGIN_REQUEST, username="root", password="correct horse battery")
    assert "with username root and the password you gave" in output
    assert "correct horse battery" not in output
    assert not password_file.exists()
    assert "the password you gave" in run("--username", "root")


def test_a_too_short_password_is_refused() -> None:
    with pytest.raises(CommandError, match="too short"):
        run("--password", "short")

    assert not get_user_model().objects.exists()


def test_an_existing_user_who_is_not_a_superuser_is_refused() -> None:
    get_user_model().objects.create_user(username="admin", password="whatever123")

    with pytest.raises(CommandError, match="not an active superuser"):
        run()
