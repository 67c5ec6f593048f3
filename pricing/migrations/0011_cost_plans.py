"""Cost plans (Plan.kind "cost": what usage costs us, pricing.costing), the
one default cost plan, the "see costs" permission, and cost versions that
take effect from an instant (VersionStart.FROM_INSTANT)."""

import pricing.versions
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('pricing', '0010_invoice_charges_taxes_coupons'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='plan',
            options={'ordering': ['name'], 'permissions': [('see_costs', 'Can see costs and margins')]},
        ),
        migrations.AddField(
            model_name='plan',
            name='is_default_cost',
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name='plan',
            name='kind',
            field=models.CharField(choices=[('price', 'Price plan'), ('cost', 'Cost plan')], default='price', max_length=10),
        ),
        migrations.AlterField(
            model_name='planversion',
            name='starts',
            field=models.CharField(choices=[('always', "From the plan's first period"), ('current_period', 'From the current period (re-rates open drafts)'), ('next_period', 'From the next period'), ('from_instant', 'From a date')], default=pricing.versions.VersionStart['ALWAYS'], max_length=20),
        ),
        migrations.AddConstraint(
            model_name='plan',
            constraint=models.UniqueConstraint(condition=models.Q(('is_default_cost', True)), fields=('is_default_cost',), name='pricing_plan_one_default_cost'),
        ),
        migrations.AddConstraint(
            model_name='plan',
            constraint=models.CheckConstraint(condition=models.Q(('is_default_cost', False), ('kind', 'cost'), _connector='OR'), name='pricing_plan_default_cost_is_a_cost_plan'),
        ),
    ]
