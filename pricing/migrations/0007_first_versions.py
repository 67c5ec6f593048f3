"""Each plan's rates become its version 1, which bills every period."""

from django.db import migrations


def first_versions(apps, schema_editor):
    Plan = apps.get_model("pricing", "Plan")
    PlanVersion = apps.get_model("pricing", "PlanVersion")
    Rate = apps.get_model("pricing", "Rate")
    for plan in Plan.objects.all().iterator():
        version = PlanVersion.objects.create(
            plan=plan, number=1, starts="always", effective_at=plan.created_at
        )
        Rate.objects.filter(plan=plan).update(version=version)
        Plan.objects.filter(pk=plan.pk).update(current_version=version)


class Migration(migrations.Migration):

    dependencies = [
        ("pricing", "0006_plan_versions"),
    ]

    operations = [
        migrations.RunPython(first_versions, migrations.RunPython.noop),
    ]
