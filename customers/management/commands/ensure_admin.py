from __future__ import annotations

import os
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from billing_site.audit import audited_command
from customers.admin_user import ADMIN_PASSWORD_FILE, AdminResult, AdminState, admin_ensure

SITE_URL = "http://127.0.0.1:8000/"


class Command(BaseCommand):
    help = (
        "Make sure a superuser exists and say how to log in. On the first run the user "
        "is created with a random password, which is kept in the gitignored file "
        f"{ADMIN_PASSWORD_FILE.name} (mode 600) and printed on every later run while it "
        "still works. An existing user's password is never changed."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--username", default="admin", help="Default: admin.")
        parser.add_argument(
            "--password",
            default=os.environ.get("ADMIN_PASSWORD") or None,
            help="Password for a new user instead of a random one (default: the "
            "ADMIN_PASSWORD environment variable). It is not written to disk.",
        )
        parser.add_argument(
            "--password-file",
            type=Path,
            default=None,
            help=f"Where a generated password is kept. Default: {ADMIN_PASSWORD_FILE}.",
        )

    @audited_command
    def handle(
        self,
        *args: Any,
        username: str,
        password: str | None,
        password_file: Path | None,
        **options: Any,
    ) -> None:
        try:
            result = admin_ensure(username=username, password=password, password_file=password_file)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(self._message(result))

    def _message(self, result: AdminResult) -> str:
        name = result.username
        if result.password is not None:
            shown = "the password you gave" if result.given else f"password {result.password}"
            login = f"Log in at {SITE_URL} with username {name} and {shown}"
            if result.state is AdminState.CREATED:
                login = f"Created superuser {name}.\n{login}"
            return self.style.SUCCESS(login)
        reset = f"Set a new one with: manage.py changepassword {name}"
        if result.state is AdminState.CHANGED:
            return self.style.WARNING(f"User {name} exists and its password was changed. {reset}")
        return self.style.WARNING(
            f"User {name} exists; its password is not in {result.password_file}. {reset}"
        )
