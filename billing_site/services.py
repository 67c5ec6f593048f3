"""Writes to user accounts made from the users page: each user holds exactly
one role (billing_site/roles.py)."""

from __future__ import annotations

from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from billing_site.roles import ROLES, roles_sync


def role_of(user: User) -> str | None:
    """The user's role: the highest role group they are in, if any. Reads
    `user.groups.all()`, so a prefetch serves a whole list."""
    names = {group.name for group in user.groups.all()}
    held = [role for role in ROLES if role in names]
    return held[-1] if held else None


def _role_group(role: str) -> Group:
    if role not in ROLES:
        raise ValidationError(f"Unknown role {role!r}.")
    group = Group.objects.filter(name=role).first()
    if group is None:  # a database emptied after migrate (e.g. flushed)
        roles_sync()
        group = Group.objects.get(name=role)
    return group


def _check_may_edit(*, user: User, by: User) -> None:
    # Editing yourself could leave nobody able to manage users; superusers hold
    # every permission whatever their role, so only a superuser edits one.
    if user.pk == by.pk:
        raise ValidationError("You cannot change your own account here; ask another admin.")
    if user.is_superuser and not by.is_superuser:
        raise ValidationError("Superusers are managed in the Django admin.")


@transaction.atomic
def user_create(*, username: str, email: str, password: str, role: str) -> User:
    """A new active user holding `role`. Raises ValidationError (on the field)
    when the username is taken, even by a request a moment ago."""
    group = _role_group(role)
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
    except IntegrityError as exc:
        raise ValidationError({"username": "A user with that username already exists."}) from exc
    user.groups.add(group)
    return user


@transaction.atomic
def user_role_set(*, user: User, role: str, by: User) -> User:
    """Give `user` exactly the role `role`, in place of the one they held."""
    _check_may_edit(user=user, by=by)
    group = _role_group(role)
    user.groups.remove(*Group.objects.filter(name__in=ROLES).exclude(pk=group.pk))
    user.groups.add(group)
    return user


@transaction.atomic
def user_active_set(*, user: User, active: bool, by: User) -> User:
    """Deactivate (or reactivate) `user`: an inactive user cannot log in and
    their sessions stop working; their history stays."""
    _check_may_edit(user=user, by=by)
    user.is_active = active
    user.save(update_fields=["is_active"])
    return user
