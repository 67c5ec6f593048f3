"""An issued invoice keeps the locale it was written in (pricing.locales),
frozen like the rest of its snapshot. A nullable column without a default is
added by ALTER TABLE on SQLite, so the table keeps its triggers; its update
trigger, which names the frozen columns, is made again with this one among
them. PostgreSQL's trigger compares whole rows and stays."""

import importlib

from django.db import migrations, models

plan_version = importlib.import_module("invoices.migrations.0003_plan_version")
commitments = importlib.import_module("invoices.migrations.0007_commitments")

FROZEN = [*commitments.FROZEN, "customer_locale"]


def _sqlite_trigger(frozen):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor != "sqlite":
            return
        schema_editor.execute("DROP TRIGGER IF EXISTS invoices_invoice_immutable_update")
        schema_editor.execute(plan_version._update_trigger(frozen))

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("invoices", "0008_line_costs"),
    ]

    operations = [
        migrations.AddField(
            model_name="invoice",
            name="customer_locale",
            field=models.CharField(blank=True, max_length=35, null=True),
        ),
        migrations.RunPython(_sqlite_trigger(FROZEN), _sqlite_trigger(commitments.FROZEN)),
    ]
