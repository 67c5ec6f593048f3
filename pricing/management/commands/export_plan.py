from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from pricing.models import Plan
from pricing.plan_files import plan_json
from pricing.selectors import plan_rates


class Command(BaseCommand):
    help = (
        "Write a pricing plan and all its rates as a tally.plan/1 JSON document "
        "(docs/PLAN_SCHEMA.md), to standard output or to --output FILE. Name the plan, "
        "or give its --id. manage.py import_plan reads the document back."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("name", nargs="?", help="The plan's name (case is ignored).")
        which.add_argument("--id", type=int, dest="plan_id", help="The plan's id instead.")
        parser.add_argument(
            "--output",
            "-o",
            type=Path,
            help="Write the document to this file (UTF-8) instead of standard output.",
        )

    def handle(
        self,
        *args: Any,
        name: str | None,
        plan_id: int | None,
        output: Path | None,
        **options: Any,
    ) -> None:
        plan = _find_plan(name, plan_id)
        document = plan_json(plan)
        if output is None:
            self.stdout.write(document, ending="")
            return
        try:
            output.write_text(document, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror or exc}") from exc
        rates = plan_rates(plan).count()
        self.stderr.write(f"Wrote “{plan.name}” ({rates} rate{'s' * (rates != 1)}) to {output}")


def _find_plan(name: str | None, plan_id: int | None) -> Plan:
    if plan_id is not None:
        plan = Plan.objects.filter(pk=plan_id).first()
        if plan is None:
            raise CommandError(f"There is no pricing plan with id {plan_id}.")
        return plan
    assert name is not None  # argparse requires the name or --id
    # An exact match first: names are unique as typed, and only alike ignoring case.
    plan = Plan.objects.filter(name=name).first()
    if plan is None:
        matches = list(Plan.objects.filter(name__iexact=name)[:2])
        plan = matches[0] if len(matches) == 1 else None
    if plan is None:
        known = ", ".join(f"“{n}”" for n in Plan.objects.values_list("name", flat=True)[:20])
        raise CommandError(
            f"There is no pricing plan named “{name}”. "
            + (f"Plans: {known}." if known else "There are no plans yet.")
        )
    return plan
