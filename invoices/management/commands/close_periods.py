from __future__ import annotations

from argparse import ArgumentParser
from dataclasses import fields
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from billing_site.audit import audited_command
from invoices.closing import CloseReport, close_periods


class Command(BaseCommand):
    help = (
        "Settle every billing period now, once: create the draft invoices of open periods "
        "and finalize those whose grace period has ended, then print what was done. "
        "Idempotent: safe to run at any time, and more than once. "
        "The worker (manage.py run_worker) does the same every CLOSE_PERIODS_EVERY seconds "
        f"(now {settings.CLOSE_PERIODS_EVERY})."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Report what would be done, and change nothing.",
        )

    @audited_command
    def handle(self, *args: Any, dry_run: bool, **options: Any) -> None:
        report = close_periods(now=timezone.now(), dry_run=dry_run)
        self.stdout.write(_describe(report, dry_run=dry_run))


def _describe(report: CloseReport, *, dry_run: bool) -> str:
    # Every field of the report, so a field added to it is printed too.
    lines = [
        f"{field.name.replace('_', ' ').capitalize()}: {getattr(report, field.name)}"
        for field in fields(report)
    ]
    if dry_run:
        lines.append("Dry run: nothing was changed.")
    return "\n".join(lines)
