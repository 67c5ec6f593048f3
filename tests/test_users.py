"""The users page: an Admin creates users with one role each, changes a role,
deactivates and reactivates; the roles hold exactly what billing_site/roles.py
declares."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from billing_site.roles import ADMIN, OPERATOR, ROLES, VIEWER, roles_sync
from billing_site.services import role_of
from tests.fixtures import field_errors, login, page, user_with_role

pytestmark = pytest.mark.django_db

PASSWORD = "a long enough password"


def group_permissions(name: str) -> set[str]:
    group = Group.objects.get(name=name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}


def logs_in(username: str, password: str) -> bool:
    response = Client().post(reverse("login"), {"username": username, "password": password})
    return response.status_code == 302


def test_after_migrate_each_role_holds_exactly_its_declared_permissions() -> None:
    for name, declared in ROLES.items():
        assert group_permissions(name) == declared


def test_syncing_the_roles_again_restores_a_changed_group_and_misses_nothing() -> None:
    Group.objects.get(name=VIEWER).permissions.clear()

    result = roles_sync()

    assert result.missing == frozenset()
    assert group_permissions(VIEWER) == ROLES[VIEWER]
    assert Group.objects.filter(name__in=ROLES).count() == 3


def test_an_admin_creates_a_user_with_a_role_who_can_log_in(client: Client) -> None:
    login(client, role=ADMIN)

    response = client.post(
        reverse("users:create"),
        {"username": "alice", "email": "alice@example.com", "password": PASSWORD, "role": OPERATOR},
    )

    assert response.status_code == 302
    alice = User.objects.get(username="alice")
    assert role_of(alice) == OPERATOR
    assert not alice.is_staff
    assert logs_in("alice", PASSWORD)
    listing = page(client.get(reverse("users:list")))
    assert "alice@example.com" in listing and OPERATOR in listing


def test_a_taken_username_in_any_case_and_a_short_password_are_refused(client: Client) -> None:
    login(client, role=ADMIN)
    User.objects.create_user(username="alice", password=PASSWORD)

    response = client.post(
        reverse("users:create"), {"username": "Alice", "password": "short", "role": VIEWER}
    )

    html = page(response)
    assert field_errors(html, "username") == ["A user with that username already exists."]
    assert "too short" in " ".join(field_errors(html, "password"))
    assert User.objects.count() == 2


def test_changing_a_role_replaces_the_old_one(client: Client) -> None:
    login(client, role=ADMIN)
    bob = user_with_role(VIEWER)

    client.post(reverse("users:role", args=[bob.pk]), {"role": ADMIN})

    assert [g.name for g in bob.groups.all()] == [ADMIN]


def test_a_deactivated_user_cannot_log_in_until_reactivated(client: Client) -> None:
    login(client, role=ADMIN)
    carol = User.objects.create_user(username="carol", password=PASSWORD)

    client.post(reverse("users:deactivate", args=[carol.pk]))
    refused = logs_in("carol", PASSWORD)
    client.post(reverse("users:reactivate", args=[carol.pk]))

    assert not refused
    assert logs_in("carol", PASSWORD)


def test_an_admin_cannot_change_their_own_account_nor_a_superusers(client: Client) -> None:
    login(client, role=ADMIN)
    me = User.objects.get(pk=client.session["_auth_user_id"])
    root = User.objects.create_superuser(username="root", password=PASSWORD)

    own = client.post(reverse("users:deactivate", args=[me.pk]), follow=True)
    client.post(reverse("users:role", args=[root.pk]), {"role": VIEWER})
    client.post(reverse("users:deactivate", args=[root.pk]))

    assert "You cannot change your own account here" in page(own)
    me.refresh_from_db()
    root.refresh_from_db()
    assert me.is_active and role_of(me) == ADMIN
    assert root.is_active and role_of(root) is None


def test_the_users_page_offers_no_controls_for_yourself(client: Client) -> None:
    login(client, role=ADMIN)
    user_with_role(VIEWER)

    html = page(client.get(reverse("users:list")))

    assert html.count("Deactivate") == 1
    assert html.count("Change role") == 1
    assert "(you)" in html
