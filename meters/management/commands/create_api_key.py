from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from billing_site.audit import audited_command
from meters.api_keys import api_key_create
from meters.models import ApiKey

NAME_MAX = ApiKey._meta.get_field("name").max_length or 100


class Command(BaseCommand):
    help = (
        "Create an API key for the machine APIs (/ingest/, /amberflo/, /api/v1/) and print it "
        "once. "
        "Tally stores only a hash of the key, so copy it from the output: it cannot be "
        "shown again. Revoke keys on the API keys page."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--name",
            required=True,
            help=f"Who or what uses the key, e.g. 'production backend' (at most {NAME_MAX} "
            "characters). Shown on the API keys page.",
        )
        parser.add_argument(
            "--scope",
            choices=ApiKey.Scope.values,
            default=ApiKey.Scope.INGEST,
            help="What the key may do. ingest (the default): send usage and add or update "
            "customers, all that Amberflo's SDK needs to ingest. read: every read, including "
            "usage queries and listing customers. full: everything, including creating plans "
            "and deleting rates.",
        )

    @audited_command
    def handle(self, *args: Any, name: str, scope: str, **options: Any) -> None:
        name = name.strip()
        if not name:
            raise CommandError("--name must not be empty")
        if len(name) > NAME_MAX:
            raise CommandError(f"--name must be at most {NAME_MAX} characters")
        key, raw = api_key_create(name=name, scope=ApiKey.Scope(scope))
        self.stdout.write(
            self.style.SUCCESS(f"Created API key “{key.name}” ({key.prefix}…), scope {key.scope}.")
        )
        self.stdout.write(raw)
        self.stdout.write(
            self.style.WARNING(
                "This key is not stored (Tally keeps only a hash of it) and cannot be shown "
                "again: copy it now. Send it in the X-API-KEY header."
            )
        )
