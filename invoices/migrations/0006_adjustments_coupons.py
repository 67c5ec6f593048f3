"""Coupons given to customers, and the steps between an issued invoice's
lines and its total (one-time fees, the invoice minimum, discounts, taxes):
InvoiceAdjustment rows, written with the lines into a draft at finalization
and, like them, never changed or deleted, on both engines."""

import django.db.models.deletion
import meters.fields
from django.db import migrations, models

MESSAGE = "invoices_invoiceadjustment_immutable: adjustments are written once, at finalization"
TABLE = "invoices_invoiceadjustment"
POSTGRES_FORWARD = [
    f"""CREATE FUNCTION {TABLE}_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            IF (SELECT status FROM invoices_invoice WHERE id = NEW.invoice_id) = 'draft' THEN
                RETURN NEW;
            END IF;
        END IF;
        RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = '23000';
    END $$""",
    f"""CREATE TRIGGER {TABLE}_immutable BEFORE INSERT OR UPDATE OR DELETE
        ON {TABLE} FOR EACH ROW EXECUTE FUNCTION {TABLE}_immutable()""",
]
POSTGRES_BACKWARD = [f"DROP TRIGGER {TABLE}_immutable ON {TABLE}", f"DROP FUNCTION {TABLE}_immutable()"]
SQLITE_FORWARD = [
    f"""CREATE TRIGGER {TABLE}_immutable_insert BEFORE INSERT ON {TABLE}
        WHEN (SELECT status FROM invoices_invoice WHERE id = NEW.invoice_id) IS NOT 'draft'
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER {TABLE}_immutable_update BEFORE UPDATE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER {TABLE}_immutable_delete BEFORE DELETE ON {TABLE}
        WHEN tally_erase_allowed() = 0
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
]
SQLITE_BACKWARD = [f"DROP TRIGGER {TABLE}_immutable_{op}" for op in ("insert", "update", "delete")]


def _run(statements_by_vendor):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0006_tax_details'),
        ('invoices', '0005_customer_tax_snapshot'),
        ('pricing', '0010_invoice_charges_taxes_coupons'),
    ]

    operations = [
        migrations.CreateModel(
            name='CouponRedemption',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('redeemed_at', models.DateTimeField()),
                ('created_by', models.CharField(max_length=200)),
                ('removed_at', models.DateTimeField(blank=True, null=True)),
                ('removed_by', models.CharField(blank=True, max_length=200)),
                ('assignment', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='coupon_redemptions', to='customers.planassignment')),
                ('coupon', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='redemptions', to='pricing.coupon')),
                ('customer', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='coupon_redemptions', to='customers.customer')),
            ],
            options={
                'ordering': ['-redeemed_at', '-pk'],
            },
        ),
        migrations.CreateModel(
            name='InvoiceAdjustment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveIntegerField()),
                ('kind', models.CharField(choices=[('one_time_fee', 'One-time fee'), ('minimum_true_up', 'Invoice minimum true-up'), ('discount', 'Discount'), ('tax', 'Tax')], max_length=20)),
                ('line_key', models.CharField(max_length=40)),
                ('description', models.CharField(max_length=300)),
                ('amount', meters.fields.ExactDecimalField(decimal_places=3, max_digits=60)),
                ('base', meters.fields.ExactDecimalField(blank=True, decimal_places=3, max_digits=60, null=True)),
                ('percentage', meters.fields.ExactDecimalField(blank=True, decimal_places=4, max_digits=9, null=True)),
                ('jurisdiction', models.CharField(blank=True, max_length=2)),
                ('inclusive', models.BooleanField(default=False)),
                ('invoice', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='adjustments', to='invoices.invoice')),
                ('redemption', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='adjustments', to='invoices.couponredemption')),
            ],
            options={
                'ordering': ['invoice', 'position'],
            },
        ),
        migrations.AddConstraint(
            model_name='couponredemption',
            constraint=models.UniqueConstraint(condition=models.Q(('removed_at__isnull', True)), fields=('coupon', 'customer'), name='invoices_couponredemption_once_per_customer'),
        ),
        migrations.AddConstraint(
            model_name='invoiceadjustment',
            constraint=models.UniqueConstraint(fields=('invoice', 'position'), name='invoices_invoiceadjustment_one_per_position'),
        ),
        migrations.AddConstraint(
            model_name='invoiceadjustment',
            constraint=models.CheckConstraint(condition=models.Q(('amount__gte', 0)), name='invoices_invoiceadjustment_not_negative'),
        ),
        migrations.RunPython(
            _run({"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRES_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
    ]
