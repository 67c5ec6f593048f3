from __future__ import annotations

from django.db import migrations

from billing_site.roles import roles_sync


def sync_roles(apps, schema_editor):
    roles_sync(apps=apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    """Invoices join the roles: Viewers see them, Billing operators finalize
    drafts and record payments, Admins void and credit (billing_site/roles.py)."""

    dependencies = [("billing_site", "0001_roles"), ("invoices", "0002_immutable")]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
