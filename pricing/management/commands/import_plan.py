from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from billing_site.audit import audited_command
from meters.records import DocumentError, decode
from pricing.plan_files import parse_document, plan_file_import
from pricing.schema import Problems


class Command(BaseCommand):
    help = (
        "Create a pricing plan and all its rates from a tally.plan/1 JSON document "
        "(docs/PLAN_SCHEMA.md), such as manage.py export_plan writes. The document is "
        "checked by the same rules as the rate editor, against the meters in the "
        "database; if anything is wrong every problem is listed, one per line with where "
        "it is, and nothing is stored."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path, help="The plan document (UTF-8 JSON).")
        parser.add_argument(
            "--name",
            default="",
            help="Import the plan under this name instead of the one in the file, e.g. "
            "to put a copy beside the original.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check the document and report what would be created; store nothing.",
        )

    @audited_command
    def handle(
        self, *args: Any, file: Path, name: str, dry_run: bool = False, **options: Any
    ) -> None:
        try:
            raw = parse_document(decode(file.read_bytes()))
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}") from exc
        except DocumentError as exc:
            raise CommandError(f"{file}: {str(exc).rstrip('.')}. Nothing was imported.") from exc
        try:
            imported = plan_file_import(raw=raw, name=name, dry_run=dry_run)
        except Problems as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            count = len(exc.problems)
            raise CommandError(
                f"{file}: {count} problem{'s' * (count != 1)}; nothing was imported."
            ) from exc
        except ValidationError as exc:
            message = " ".join(exc.messages).rstrip(".")
            raise CommandError(f"{file}: {message}. Nothing was imported.") from exc
        rates = imported.draft.rates
        summary = f"“{imported.plan.name}” with {len(rates)} rate{'s' * (len(rates) != 1)}"
        if dry_run:
            self.stdout.write(f"{file} is valid: it would create {summary}. Nothing was stored.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Imported {summary} (id {imported.plan.pk})."))
        for rate in rates:
            self.stdout.write(f"  {rate.meter}: {rate.model}")
