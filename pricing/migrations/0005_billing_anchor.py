from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("pricing", "0004_invoicing"),
    ]

    operations = [
        migrations.AddField(
            model_name="plan",
            name="billing_anchor",
            field=models.CharField(
                choices=[
                    ("anniversary", "On the assignment's start date (anniversary)"),
                    ("calendar", "On calendar periods (the first one prorated)"),
                ],
                default="anniversary",
                help_text="Periods start on each assignment's start date, or follow the calendar (the first period then runs to the next calendar boundary, its fees prorated).",
                max_length=20,
            ),
        ),
    ]
