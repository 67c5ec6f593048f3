"""A rate belongs to one version; a meter is priced once per version."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("pricing", "0007_first_versions"),
    ]

    operations = [
        migrations.AlterField(
            model_name='rate',
            name='version',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='rates', to='pricing.planversion'),
        ),
        migrations.AddConstraint(
            model_name='rate',
            constraint=models.UniqueConstraint(fields=('version', 'meter'), name='pricing_rate_one_per_meter_per_version'),
        ),
    ]
