"""Each issued line keeps what its usage cost at finalization (invoices.margins).
Nullable columns without a default are added by ALTER TABLE on SQLite, so
the table keeps its triggers."""

import meters.fields
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('invoices', '0007_commitments'),
    ]

    operations = [
        migrations.AddField(
            model_name='invoiceline',
            name='cost',
            field=meters.fields.ExactDecimalField(blank=True, decimal_places=3, max_digits=60, null=True),
        ),
        migrations.AddField(
            model_name='invoiceline',
            name='cost_unknown_quantity',
            field=meters.fields.ExactDecimalField(blank=True, decimal_places=9, max_digits=40, null=True),
        ),
    ]
