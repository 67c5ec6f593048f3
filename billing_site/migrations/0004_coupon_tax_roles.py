from __future__ import annotations

from django.db import migrations

from billing_site.roles import roles_sync


def sync_roles(apps, schema_editor):
    roles_sync(apps=apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    """Coupons, tax rates and prepaid commitments join the roles: Viewers see
    them, Billing operators give customers coupons and remove them and make
    commitments, Admins make coupons and tax rates, and only Admins see costs
    and margins (billing_site/roles.py)."""

    dependencies = [
        ("billing_site", "0003_credit_grant_roles"),
        ("invoices", "0007_commitments"),
        ("pricing", "0011_cost_plans"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
