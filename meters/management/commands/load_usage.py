from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from billing_site.audit import audited_command
from meters.models import Meter
from meters.naming import normalize_api_name
from meters.records import DocumentError, decode, parse_document
from meters.services import IngestResult, events_ingest

SHOWN_REJECTIONS = 20


class Command(BaseCommand):
    help = (
        "Load usage records from a file (JSON array, NDJSON or CSV, read like the upload "
        "page) and say how many were accepted, duplicates or rejected. Records older than "
        f"the backfill window (INGEST_BACKFILL_DAYS, now {settings.INGEST_BACKFILL_DAYS} "
        "days) are rejected unless --allow-backfill is given: the deliberate way to load "
        "older history. Times before 2000 are always rejected. Unknown customers are "
        "rejected, as on the upload page."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path, help="The records (.json, .ndjson or .csv).")
        parser.add_argument(
            "--meter",
            default=None,
            help="API name of the meter for records without meterApiName.",
        )
        parser.add_argument(
            "--customer",
            default=None,
            help="Customer ID for records without customerId.",
        )
        parser.add_argument(
            "--allow-backfill",
            action="store_true",
            help="Accept records older than the backfill window (but not before 2000).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check every record and report, then store nothing.",
        )

    @audited_command
    def handle(
        self,
        *args: Any,
        file: Path,
        meter: str | None,
        customer: str | None,
        allow_backfill: bool,
        dry_run: bool,
        **options: Any,
    ) -> None:
        default_meter = None
        if meter:
            default_meter = Meter.objects.filter(api_name=normalize_api_name(meter)).first()
            if default_meter is None:
                raise CommandError(f"No meter with API name {meter!r}.")
        try:
            records = parse_document(decode(file.read_bytes()), file.name)
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from exc
        except DocumentError as exc:
            raise CommandError(str(exc)) from exc
        with transaction.atomic():
            result = events_ingest(
                records=records,
                default_meter=default_meter,
                default_customer_id=customer,
                allow_backfill=allow_backfill,
            )
            # The dry run does all the work, duplicates included, then undoes it.
            transaction.set_rollback(dry_run)
        self.stdout.write(self._report(result, dry_run))

    def _report(self, result: IngestResult, dry_run: bool) -> str:
        verb = "would be" if dry_run else "were"
        lines = [
            f"{result.received:,} records: {result.accepted:,} {verb} accepted, "
            f"{result.duplicates:,} {verb} duplicates, {len(result.rejected):,} {verb} rejected."
        ]
        for rejection in result.rejected[:SHOWN_REJECTIONS]:
            lines.append(f"  record {rejection.index + 1}: {rejection.reason}")
        if len(result.rejected) > SHOWN_REJECTIONS:
            lines.append(f"  … and {len(result.rejected) - SHOWN_REJECTIONS:,} more.")
        if dry_run:
            lines.append("Dry run: nothing was stored.")
        return "\n".join(lines)
