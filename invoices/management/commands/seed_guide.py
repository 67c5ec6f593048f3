from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from billing_site.audit import audited_command
from invoices.demo import GuideSeedResult, guide_seed
from pricing.money import format_money


class Command(BaseCommand):
    help = (
        "Create the scenario of the guide 'Billing for LLM tokens': the API calls and "
        "LLM tokens meters, the Chatbot Usage Plan with its two rates, the customer "
        "test-customer on that plan from the start of last month, and the guide's usage "
        "in both months (period close then issues last month's invoice). "
        "Safe to run again: existing objects are left as they are and events are never "
        "stored twice. Prints the invoice total for the current period."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Show what would be created and the resulting total, then roll everything back.",
        )

    @audited_command
    def handle(self, *args: Any, dry_run: bool = False, **options: Any) -> None:
        try:
            with transaction.atomic():
                result = guide_seed(now=timezone.now())
                if dry_run:
                    # Undone on leaving the block; the total above saw the writes.
                    transaction.set_rollback(True)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self._report(result, dry_run=dry_run)

    def _report(self, result: GuideSeedResult, *, dry_run: bool) -> None:
        verb = "Would create" if dry_run else "Created"
        for what in result.created:
            self.stdout.write(f"{verb} {what}")
        for what in result.kept:
            self.stdout.write(f"Kept existing {what}")
        stored = "would store" if dry_run else "stored"
        self.stdout.write(
            f"Usage events: {stored} {result.events_stored}, "
            f"{result.events_already_stored} already there"
        )
        invoice = result.invoice
        if invoice is None:
            self.stdout.write("test-customer has no current billing period.")
        else:
            period = invoice.ref.period
            self.stdout.write(
                self.style.SUCCESS(
                    f"Invoice total for the current period (from {period.start:%Y-%m-%d} "
                    f"until {period.end:%Y-%m-%d}): "
                    f"{format_money(invoice.total, invoice.currency)}"
                )
            )
        self.stdout.write(
            "Last month's invoice is issued by period close: the worker `make run` starts "
            "does it within minutes, or run `manage.py close_periods`."
        )
        for username, password, role in result.demo_logins:
            self.stdout.write(f"Demo login ({role}): username {username}, password {password}")
        if dry_run:
            self.stdout.write("Dry run: nothing was saved.")
