"""Usage values become exact on SQLite: a TEXT column collated as decimals
(meters/fields.py). PostgreSQL keeps numeric(30, 9); nothing runs there."""

from __future__ import annotations

from typing import Any

from django.db import migrations

import meters.fields


def values_to_exact_text(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "sqlite":
        return
    with schema_editor.connection.cursor() as cursor:
        meters.fields.sqlite_column_to_exact_text(
            cursor, table="meters_usageevent", column="value", decimal_places=9
        )


class Migration(migrations.Migration):
    dependencies = [
        ("meters", "0004_rejected_received_at"),
    ]

    operations = [
        migrations.AlterField(
            model_name="usageevent",
            name="value",
            field=meters.fields.ExactDecimalField(decimal_places=9, max_digits=30),
        ),
        migrations.RunPython(values_to_exact_text, migrations.RunPython.noop),
    ]
