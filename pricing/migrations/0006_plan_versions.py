"""Plan versions (pricing.versions), in three steps so PostgreSQL never
alters a table with updates pending: the tables, then each plan's rates
become its version 1 (0007), then a rate must have a version (0008)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('meters', '0007_drop_event_meter_index'),
        ('pricing', '0005_billing_anchor'),
    ]

    operations = [
        migrations.CreateModel(
            name='PlanVersion',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('number', models.PositiveIntegerField()),
                ('starts', models.CharField(choices=[('always', "From the plan's first period"), ('current_period', 'From the current period (re-rates open drafts)'), ('next_period', 'From the next period')], default='always', max_length=20)),
                ('effective_at', models.DateTimeField(help_text='When the change was made.')),
                ('change', models.CharField(blank=True, default='', help_text='What this version changed.', max_length=300)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'ordering': ['plan', 'number'],
            },
        ),
        migrations.RemoveConstraint(
            model_name='rate',
            name='pricing_rate_one_per_meter',
        ),
        migrations.AlterField(
            model_name='rate',
            name='plan',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='pricing.plan'),
        ),
        migrations.AddField(
            model_name='planversion',
            name='plan',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='versions', to='pricing.plan'),
        ),
        migrations.AddField(
            model_name='plan',
            name='current_version',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='pricing.planversion'),
        ),
        migrations.AddField(
            model_name='rate',
            name='version',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='rates', to='pricing.planversion'),
        ),
        migrations.AddConstraint(
            model_name='planversion',
            constraint=models.UniqueConstraint(fields=('plan', 'number'), name='pricing_version_numbered'),
        ),
        migrations.AddConstraint(
            model_name='planversion',
            constraint=models.CheckConstraint(condition=models.Q(('number__gte', 1)), name='pricing_version_number_positive'),
        ),
    ]
