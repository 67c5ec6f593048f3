"""An issued invoice keeps the locale it was written in (pricing.locales),
frozen like the rest of its snapshot. A nullable column without a default is
added by ALTER TABLE on SQLite, so the table keeps its triggers; its update
trigger, which names the frozen columns, is made again with this one among
them. PostgreSQL's trigger compares whole rows and stays."""

import importlib

from django.db import migrations, models

commitments = importlib.import_module("invoices.migrations.0007_commitments")
tax_snapshot = importlib.import_module("invoices.migrations.0005_customer_tax_snapshot")

FROZEN = [*commitments.FROZEN, "customer_locale"]


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
        migrations.RunPython(
            tax_snapshot._sqlite_trigger(FROZEN), tax_snapshot._sqlite_trigger(commitments.FROZEN)
        ),
    ]
