"""Password guessing on the app's login and the admin's (django-axes).

Invariants under test: after AXES_FAILURE_LIMIT (5) wrong passwords for a
username from one address, even the right password from that address is
refused with a page saying why, until the cool-off (15 minutes) has passed;
the same username from another address still logs in; a successful login
clears the count.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import User
from django.test import Client
from time_machine import TimeMachineFixture

from tests.factories import PASSWORD, UserFactory
from tests.fixtures import element, page, text

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
APP_LOGIN = "/login/"
ADMIN_LOGIN = "/admin/login/"


@pytest.fixture
def now(time_machine: TimeMachineFixture) -> datetime:
    time_machine.move_to(NOW, tick=False)
    return NOW


def log_in(client: Client, url: str, user: User, password: str) -> Response:
    return client.post(url, {"username": user.username, "password": password})


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("url", [APP_LOGIN, ADMIN_LOGIN], ids=["app", "admin"])
def test_the_right_password_after_30_wrong_ones_does_not_log_in(
    url: str, now: datetime, time_machine: TimeMachineFixture
) -> None:
    user = UserFactory.create(is_staff=True, is_superuser=True)
    client = Client()
    wrong = [log_in(client, url, user, f"guess-{i}").status_code for i in range(30)]

    right = log_in(client, url, user, PASSWORD)

    # Four times the form's own "wrong password" answer; the fifth locks out.
    assert wrong[:4] == [200] * 4 and wrong[4:] == [429] * 26
    assert right.status_code == 429
    assert not logged_in(client)
    notice = text(element(page(right), "locked-out"))
    assert "Too many failed logins" in notice
    assert f"After 5 wrong passwords for “{user.username}” from this address" in notice
    assert "paused for 15 minutes, even with the right password" in notice

    time_machine.move_to(NOW + timedelta(minutes=15, seconds=1), tick=False)
    after = log_in(client, url, user, PASSWORD)

    assert after.status_code == 302
    assert logged_in(client)


def test_each_try_during_the_lockout_starts_the_cool_off_again(
    now: datetime, time_machine: TimeMachineFixture
) -> None:
    user = UserFactory.create()
    client = Client()
    for i in range(5):
        log_in(client, APP_LOGIN, user, f"guess-{i}")
    time_machine.move_to(NOW + timedelta(minutes=10), tick=False)
    log_in(client, APP_LOGIN, user, "one-more-guess")

    # Past the first cool-off, but not the one the try at 10 minutes started
    # (and this try, even with the right password, starts another).
    time_machine.move_to(NOW + timedelta(minutes=16), tick=False)
    assert log_in(client, APP_LOGIN, user, PASSWORD).status_code == 429

    time_machine.move_to(NOW + timedelta(minutes=31, seconds=1), tick=False)
    assert log_in(client, APP_LOGIN, user, PASSWORD).status_code == 302


def test_a_lockout_does_not_reach_the_same_user_at_another_address(now: datetime) -> None:
    user = UserFactory.create()
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for i in range(10):
        log_in(attacker, APP_LOGIN, user, f"guess-{i}")

    colleague = Client(REMOTE_ADDR="198.51.100.7")
    response = log_in(colleague, APP_LOGIN, user, PASSWORD)

    assert response.status_code == 302
    assert logged_in(colleague)
    assert log_in(attacker, APP_LOGIN, user, PASSWORD).status_code == 429


def test_a_successful_login_clears_the_failures(now: datetime) -> None:
    user = UserFactory.create()
    client = Client()
    for _ in range(2):
        for i in range(4):
            assert log_in(client, APP_LOGIN, user, f"guess-{i}").status_code == 200
        assert log_in(client, APP_LOGIN, user, PASSWORD).status_code == 302
        client.post("/logout/")

    assert log_in(client, APP_LOGIN, user, "guess-again").status_code == 200
