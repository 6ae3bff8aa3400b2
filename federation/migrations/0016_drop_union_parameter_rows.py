"""Observation's combo- parameters are now searched on their members' rows (federation.search.registry,
_with_unions): the rows written for them before are read by nothing, and go."""

from django.db import migrations

from federation.migrations._dropped_rows import rows_dropper

UNIONS = ("combo-code", "combo-data-absent-reason", "combo-value-concept", "combo-value-quantity")
TABLES = ("federation_tokenindex", "federation_stringindex", "federation_quantityindex")


class Migration(migrations.Migration):
    dependencies = [
        ("federation", "0015_token_and_string_indexes_lean"),
    ]

    operations = [
        migrations.RunPython(
            rows_dropper([("Observation", code + suffix) for code in UNIONS for suffix in ("", ":text")], TABLES),
            migrations.RunPython.noop,
        )
    ]
