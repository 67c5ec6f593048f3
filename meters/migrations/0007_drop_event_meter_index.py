"""Drop the index on usage events' meter_id alone: the unique constraint
(meter, unique_id) and the indexes meters_event_meter_cust_time and
meters_event_meter_time all begin with meter_id and serve the same lookups
(and the foreign key's PROTECT check), so it only slowed every insert."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("meters", "0006_apikey_scope"),
    ]

    operations = [
        migrations.AlterField(
            model_name="usageevent",
            name="meter",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="events",
                to="meters.meter",
            ),
        ),
    ]
