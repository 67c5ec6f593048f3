"""A rate chooses whether its tiered prices charge the first tier's flat fee
at zero usage. Rates stored before the choice existed keep today's rule (no
usage, no charge), so no price of an open draft changes silently; a new rate
takes pricing.schema.DEFAULT_FIRST_TIER_FEE_AT_ZERO (True, Stripe's rule)."""

from django.db import migrations, models

HELP_TEXT = (
    "Tiered prices charge their first tier's flat fee even in a period without usage "
    "(as Stripe and OpenMeter do). Off: no usage, no charge."
)


class Migration(migrations.Migration):

    dependencies = [
        ("pricing", "0008_rate_version_required"),
    ]

    operations = [
        # Existing rows are filled with this default: today's behaviour.
        migrations.AddField(
            model_name="rate",
            name="first_tier_fee_at_zero",
            field=models.BooleanField(
                default=False,
                help_text=HELP_TEXT,
                verbose_name="first tier's flat fee at zero usage",
            ),
        ),
        # Then new rates default to the common behaviour.
        migrations.AlterField(
            model_name="rate",
            name="first_tier_fee_at_zero",
            field=models.BooleanField(
                default=True,
                help_text=HELP_TEXT,
                verbose_name="first tier's flat fee at zero usage",
            ),
        ),
    ]
