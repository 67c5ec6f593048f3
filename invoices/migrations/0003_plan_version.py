"""Each issued invoice records which price version of its plan priced it
(pricing.versions). On SQLite the update trigger names the frozen columns
one by one, so it is made again with this one among them; PostgreSQL's
compares whole rows and needs nothing. A nullable column without a default
is added by ALTER TABLE on SQLite, so the table (and its triggers) stay."""

from __future__ import annotations

import importlib

from django.db import migrations, models

immutable = importlib.import_module("invoices.migrations.0002_immutable")

FROZEN = [*immutable.FROZEN, "plan_version"]


def _update_trigger(frozen: list[str]) -> str:
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in frozen)
    lifecycle = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in immutable.LIFECYCLE)
    return f"""CREATE TRIGGER invoices_invoice_immutable_update BEFORE UPDATE ON invoices_invoice
        WHEN (OLD.status = 'draft' AND NEW.status NOT IN ('draft', 'open'))
          OR (OLD.status <> 'draft' AND (
                {changed}
                OR (NEW.status = OLD.status AND ({lifecycle}))
                OR (NEW.status <> OLD.status AND NOT ({immutable.ALLOWED}))))
        BEGIN SELECT RAISE(ABORT, '{immutable.MESSAGE}'); END"""


def _sqlite_trigger(frozen: list[str]):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor != "sqlite":
            return
        schema_editor.execute("DROP TRIGGER IF EXISTS invoices_invoice_immutable_update")
        schema_editor.execute(_update_trigger(frozen))

    return run


class Migration(migrations.Migration):
    dependencies = [("invoices", "0002_immutable")]

    operations = [
        migrations.AddField(
            model_name="invoice",
            name="plan_version",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="The number of the plan's price version that priced it.",
                null=True,
            ),
        ),
        migrations.RunPython(_sqlite_trigger(FROZEN), _sqlite_trigger(immutable.FROZEN)),
    ]
