"""Versions no longer have a foreign-key constraint on their resource: checking it locked the resource row for
each version written (see the model)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("federation", "0013_content_lz4"),
    ]

    operations = [
        migrations.AlterField(
            model_name="resourceversion",
            name="resource",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="versions",
                to="federation.resource",
            ),
        ),
    ]
