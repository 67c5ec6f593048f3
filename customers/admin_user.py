"""The superuser `make run` logs in with (the ensure_admin command).

Invariant: idempotent. An existing user is only checked, never changed; a
password is generated only for a new user, and kept where a later run can show
it again.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

# Gitignored; holds only a password this module generated, readable by its owner.
ADMIN_PASSWORD_FILE = Path(__file__).resolve().parent.parent / ".admin-password"


class AdminState(StrEnum):
    CREATED = "created"  # a new superuser, with `password`
    KNOWN = "known"  # exists, and `password` (stored or given) still logs in
    CHANGED = "changed"  # exists, and neither the stored nor the given password works
    UNKNOWN = "unknown"  # exists, and no password was stored or given


@dataclass(frozen=True)
class AdminResult:
    username: str
    state: AdminState
    password_file: Path
    password: str | None = None
    # Whether `password` came from the operator (--password / ADMIN_PASSWORD),
    # rather than being generated here and kept in the password file.
    given: bool = False


@transaction.atomic
def admin_ensure(
    *, username: str, password: str | None = None, password_file: Path | None = None
) -> AdminResult:
    """Make sure the superuser `username` exists.

    A new user gets `password`, or a random one that is written to
    `password_file` (mode 600) so later runs can show it again. A password
    the operator chose is never written to disk. An existing user's password
    is only checked, never changed.
    """
    path = password_file or ADMIN_PASSWORD_FILE
    users = get_user_model()._default_manager
    user = users.filter(username=username).first()
    if user is None:
        if password:
            validate_password(password)
        chosen = password or secrets.token_urlsafe(12)
        users.create_superuser(username=username, email="", password=chosen)
        if not password:
            # Inside the transaction: if the file cannot be written, no user
            # is left behind with a password nobody knows.
            _write_secret(path, chosen)
        return AdminResult(username, AdminState.CREATED, path, chosen, given=bool(password))
    if not (user.is_active and user.is_superuser):
        raise ValidationError(
            f"User {username} exists but is not an active superuser; "
            "fix it in the admin or choose another --username."
        )
    if password and user.check_password(password):
        return AdminResult(username, AdminState.KNOWN, path, password, given=True)
    stored = _read_secret(path)
    if stored and user.check_password(stored):
        return AdminResult(username, AdminState.KNOWN, path, stored)
    state = AdminState.CHANGED if password or stored else AdminState.UNKNOWN
    return AdminResult(username, state, path)


def _write_secret(path: Path, secret: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(secret + "\n")
    os.chmod(path, 0o600)  # os.open keeps the mode of a file that already existed


def _read_secret(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None
