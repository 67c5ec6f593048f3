from __future__ import annotations

from django.db import migrations

from billing_site.roles import roles_sync


def create_roles(apps, schema_editor):
    roles_sync(apps=apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    """The Viewer, Billing operator and Admin groups with their permissions
    (billing_site/roles.py). A later change to a role is a new migration that
    calls roles_sync again."""

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("meters", "0005_exact_decimal_value"),
        ("pricing", "0003_exact_decimal_prices"),
        ("customers", "0003_ingestion"),
        ("auditlog", "0017_add_actor_email"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
