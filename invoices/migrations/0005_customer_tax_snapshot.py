"""An issued invoice keeps how its customer was taxed (country, tax ID, tax
status), frozen like the rest of its snapshot: on SQLite the update trigger
is made again with these columns among those it guards."""

import importlib

from django.db import migrations, models

credits = importlib.import_module("invoices.migrations.0004_credit_grants")
plan_version = importlib.import_module("invoices.migrations.0003_plan_version")

FROZEN = [*credits.FROZEN, "customer_country", "customer_tax_id", "customer_tax_status"]


def _sqlite_trigger(frozen):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor != "sqlite":
            return
        schema_editor.execute("DROP TRIGGER IF EXISTS invoices_invoice_immutable_update")
        schema_editor.execute(plan_version._update_trigger(frozen))

    return run


class Migration(migrations.Migration):

    dependencies = [
        ('invoices', '0004_credit_grants'),
    ]

    operations = [
        migrations.AddField(
            model_name='invoice',
            name='customer_country',
            field=models.CharField(blank=True, max_length=2, null=True),
        ),
        migrations.AddField(
            model_name='invoice',
            name='customer_tax_id',
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name='invoice',
            name='customer_tax_status',
            field=models.CharField(blank=True, max_length=20, null=True),
        ),
        migrations.RunPython(_sqlite_trigger(FROZEN), _sqlite_trigger(credits.FROZEN)),
    ]
