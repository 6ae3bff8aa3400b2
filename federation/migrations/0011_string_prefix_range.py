"""The string index's folded value gets byte-wise range lookups (prefix search as a range); no change in the
database."""

from django.db import migrations

import federation.models.search_index


class Migration(migrations.Migration):
    dependencies = [
        ("federation", "0010_resource_placement"),
    ]

    operations = [
        migrations.AlterField(
            model_name="stringindex",
            name="normalized",
            field=federation.models.search_index.PatternField(max_length=255),
        ),
    ]
