"""Prices, fees, package sizes and free units become exact on SQLite: TEXT
columns collated as decimals (meters/fields.py). PostgreSQL keeps its numeric
columns; nothing runs there."""

from __future__ import annotations

from typing import Any

from django.db import migrations

import meters.fields

# (table, column, decimal places) of every column this migration alters.
COLUMNS = [
    ("pricing_pricecell", "unit_price", 15),
    ("pricing_pricecell", "package_price", 15),
    ("pricing_pricecell", "package_size", 9),
    ("pricing_pricecell", "free_units", 9),
    ("pricing_rate", "minimum_charge", 15),
    ("pricing_rate", "base_fee", 15),
]


def prices_to_exact_text(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "sqlite":
        return
    with schema_editor.connection.cursor() as cursor:
        for table, column, places in COLUMNS:
            meters.fields.sqlite_column_to_exact_text(
                cursor, table=table, column=column, decimal_places=places
            )


class Migration(migrations.Migration):
    dependencies = [
        ("meters", "0005_exact_decimal_value"),
        ("pricing", "0002_price_models"),
    ]

    operations = [
        migrations.AlterField(
            model_name="pricecell",
            name="free_units",
            field=meters.fields.ExactDecimalField(decimal_places=9, default=0, max_digits=30),
        ),
        migrations.AlterField(
            model_name="pricecell",
            name="package_price",
            field=meters.fields.ExactDecimalField(decimal_places=15, default=0, max_digits=30),
        ),
        migrations.AlterField(
            model_name="pricecell",
            name="package_size",
            field=meters.fields.ExactDecimalField(decimal_places=9, default=1, max_digits=30),
        ),
        migrations.AlterField(
            model_name="pricecell",
            name="unit_price",
            field=meters.fields.ExactDecimalField(decimal_places=15, default=0, max_digits=30),
        ),
        migrations.AlterField(
            model_name="rate",
            name="base_fee",
            field=meters.fields.ExactDecimalField(
                blank=True,
                decimal_places=15,
                help_text="A flat fee per billing period, prorated when the plan starts or ends "
                "inside the period.",
                max_digits=30,
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="rate",
            name="minimum_charge",
            field=meters.fields.ExactDecimalField(
                blank=True,
                decimal_places=15,
                help_text="Per billing period: usage charges below it are trued up to it.",
                max_digits=30,
                null=True,
            ),
        ),
        migrations.RunPython(prices_to_exact_text, migrations.RunPython.noop),
    ]
