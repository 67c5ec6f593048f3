"""A customer may have their own cost plan (invoices.margins)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0006_tax_details'),
        ('pricing', '0011_cost_plans'),
    ]

    operations = [
        migrations.AddField(
            model_name='customer',
            name='cost_plan',
            field=models.ForeignKey(blank=True, help_text="Costs this customer's usage instead of the default cost plan.", limit_choices_to={'kind': 'cost'}, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='cost_customers', to='pricing.plan'),
        ),
    ]
