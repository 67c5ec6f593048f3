"""Prepaid credit: grants and their ledger, both written once (triggers on
both engines, as migration 0002 does for credit notes), and on the invoice
the credit it drew and the amount due, frozen once issued (on SQLite the
update trigger is made again with them among its columns).

Invoices issued before this have no credit columns: nothing was drawn, and
what they ask is their total (Invoice.due)."""

import importlib

import django.db.models.deletion
import meters.fields
from django.db import migrations, models

immutable = importlib.import_module("invoices.migrations.0002_immutable")
plan_version = importlib.import_module("invoices.migrations.0003_plan_version")

FROZEN = [*plan_version.FROZEN, "credits_applied", "amount_due"]
TABLES = ["invoices_creditgrant", "invoices_creditledgerentry"]
_ERASE = "tally_erase_allowed() = 0"
POSTGRES_FORWARD = [
    f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION invoices_append_only()"""
    for table in TABLES
]
POSTGRES_BACKWARD = [f"DROP TRIGGER {table}_append_only ON {table}" for table in TABLES]
SQLITE_FORWARD = [
    statement
    for table in TABLES
    for statement in (
        f"""CREATE TRIGGER {table}_append_only_update BEFORE UPDATE ON {table}
            BEGIN SELECT RAISE(ABORT, '{table}_append_only: written once, never changed'); END""",
        f"""CREATE TRIGGER {table}_append_only_delete BEFORE DELETE ON {table}
            WHEN {_ERASE}
            BEGIN SELECT RAISE(ABORT, '{table}_append_only: written once, never deleted'); END""",
    )
]
SQLITE_BACKWARD = [
    f"DROP TRIGGER {table}_append_only_{op}" for table in TABLES for op in ("update", "delete")
]


def _triggers(forward: bool):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        vendor = schema_editor.connection.vendor
        statements = {
            ("postgresql", True): POSTGRES_FORWARD,
            ("postgresql", False): POSTGRES_BACKWARD,
            ("sqlite", True): SQLITE_FORWARD,
            ("sqlite", False): SQLITE_BACKWARD,
        }.get((vendor, forward), [])
        for statement in statements:
            schema_editor.execute(statement, params=None)
        if vendor == "sqlite":
            schema_editor.execute("DROP TRIGGER IF EXISTS invoices_invoice_immutable_update")
            frozen = FROZEN if forward else plan_version.FROZEN
            schema_editor.execute(plan_version._update_trigger(frozen))

    return run


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0005_cycle_anchor'),
        ('invoices', '0003_plan_version'),
    ]

    operations = [
        migrations.AddField(
            model_name='invoice',
            name='amount_due',
            field=meters.fields.ExactDecimalField(blank=True, decimal_places=3, max_digits=60, null=True),
        ),
        migrations.AddField(
            model_name='invoice',
            name='credits_applied',
            field=meters.fields.ExactDecimalField(blank=True, decimal_places=3, max_digits=60, null=True),
        ),
        migrations.CreateModel(
            name='CreditGrant',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('paid', 'Paid'), ('promotional', 'Promotional')], default='promotional', max_length=20)),
                ('currency', models.CharField(max_length=3)),
                ('amount', meters.fields.ExactDecimalField(decimal_places=3, max_digits=60)),
                ('description', models.CharField(max_length=200)),
                ('purchase_reference', models.CharField(blank=True, max_length=200)),
                ('effective_at', models.DateTimeField()),
                ('expires_at', models.DateTimeField(blank=True, null=True)),
                ('priority', models.PositiveSmallIntegerField(default=50)),
                ('created_at', models.DateTimeField()),
                ('created_by', models.CharField(max_length=200)),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='credit_grants', to='customers.customer')),
            ],
            options={
                'ordering': ['-created_at', '-pk'],
            },
        ),
        migrations.CreateModel(
            name='CreditLedgerEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('granted', 'Granted'), ('drawn', 'Drawn by an invoice'), ('returned', 'Returned by a voided invoice'), ('expired', 'Expired'), ('voided', 'Voided')], max_length=20)),
                ('amount', meters.fields.ExactDecimalField(decimal_places=3, max_digits=60)),
                ('at', models.DateTimeField()),
                ('actor', models.CharField(max_length=200)),
                ('note', models.TextField(blank=True)),
                ('grant', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='entries', to='invoices.creditgrant')),
                ('invoice', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='credit_entries', to='invoices.invoice')),
            ],
            options={
                'ordering': ['at', 'pk'],
            },
        ),
        migrations.AddConstraint(
            model_name='creditgrant',
            constraint=models.CheckConstraint(condition=models.Q(('amount__gt', 0)), name='invoices_creditgrant_positive'),
        ),
        migrations.AddConstraint(
            model_name='creditgrant',
            constraint=models.CheckConstraint(condition=models.Q(('priority__lte', 100)), name='invoices_creditgrant_priority_range'),
        ),
        migrations.AddConstraint(
            model_name='creditgrant',
            constraint=models.CheckConstraint(condition=models.Q(('expires_at__isnull', True), ('expires_at__gt', models.F('effective_at')), _connector='OR'), name='invoices_creditgrant_expires_after_effective'),
        ),
        migrations.AddConstraint(
            model_name='creditledgerentry',
            constraint=models.CheckConstraint(condition=models.Q(('amount__gt', 0)), name='invoices_creditledgerentry_positive'),
        ),
        migrations.AddConstraint(
            model_name='creditledgerentry',
            constraint=models.UniqueConstraint(condition=models.Q(('kind__in', ['drawn', 'returned'])), fields=('grant', 'invoice', 'kind'), name='invoices_creditledgerentry_once_per_invoice'),
        ),
        migrations.AddConstraint(
            model_name='creditledgerentry',
            constraint=models.UniqueConstraint(condition=models.Q(('kind', 'granted')), fields=('grant',), name='invoices_creditledgerentry_granted_once'),
        ),
        migrations.RunPython(_triggers(forward=True), _triggers(forward=False)),
    ]
