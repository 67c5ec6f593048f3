from __future__ import annotations

from django.db import migrations

from billing_site.roles import roles_sync


def sync_roles(apps, schema_editor):
    roles_sync(apps=apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    """Prepaid credit joins the roles: Viewers see grants and their ledger,
    Billing operators and Admins grant credit and void it (billing_site/roles.py)."""

    dependencies = [("billing_site", "0002_invoice_roles"), ("invoices", "0004_credit_grants")]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
