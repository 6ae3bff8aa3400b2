"""One token index, by (param, code, system, resource), instead of one by (param, code) and another by
(param, system, code): every token row an ingest writes costs one random B-tree entry less."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("federation", "0017_drop_union_composite_rows"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="tokenindex",
            name="token_code",
        ),
        migrations.RemoveIndex(
            model_name="tokenindex",
            name="token_system",
        ),
        migrations.AddIndex(
            model_name="tokenindex",
            index=models.Index(fields=["param", "code", "system", "resource"], name="token_value"),
        ),
    ]
