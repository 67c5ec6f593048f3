"""API keys get a scope. Keys that existed before scopes keep doing everything
they did (`full`); a key created from now on defaults to `ingest`."""

from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("meters", "0005_exact_decimal_value"),
    ]

    operations = [
        # Added with default "full" so every existing row is backfilled as full,
        # then the default for new rows becomes "ingest".
        migrations.AddField(
            model_name="apikey",
            name="scope",
            field=models.CharField(
                choices=[
                    ("ingest", "Ingest (send usage, add or update customers)"),
                    ("read", "Read (every GET, usage queries)"),
                    ("full", "Full (everything)"),
                ],
                default="full",
                help_text="What the key may do: ingest usage, read, or everything.",
                max_length=10,
            ),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="apikey",
            name="scope",
            field=models.CharField(
                choices=[
                    ("ingest", "Ingest (send usage, add or update customers)"),
                    ("read", "Read (every GET, usage queries)"),
                    ("full", "Full (everything)"),
                ],
                default="ingest",
                help_text="What the key may do: ingest usage, read, or everything.",
                max_length=10,
            ),
        ),
    ]
