"""Fewer B-tree entries per index row: the token index keeps (param, system, code) in one index instead of
a hash of system and code in one and the system alone in another, and :exact string searches probe the prefix
index (an exact string has one normalized form) instead of an index of their own."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("federation", "0014_version_without_row_lock"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="stringindex",
            name="string_exact",
        ),
        migrations.RemoveIndex(
            model_name="tokenindex",
            name="token_system_code",
        ),
        migrations.RemoveIndex(
            model_name="tokenindex",
            name="token_system",
        ),
        migrations.RemoveField(
            model_name="tokenindex",
            name="system_code",
        ),
        migrations.AddIndex(
            model_name="tokenindex",
            index=models.Index(fields=["param", "system", "code", "resource"], name="token_system"),
        ),
    ]
