"""The reference index loses an index no lookup needs (every lookup by target names its parameter) and indexes
absolute URLs only where there is one: fewer B-tree entries to keep on every write."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("federation", "0011_string_prefix_range"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="referenceindex",
            name="reference_reverse",
        ),
        migrations.RemoveIndex(
            model_name="referenceindex",
            name="reference_url",
        ),
        migrations.AddIndex(
            model_name="referenceindex",
            index=models.Index(
                condition=models.Q(("url__isnull", False)), fields=["param", "url"], name="reference_url"
            ),
        ),
    ]
