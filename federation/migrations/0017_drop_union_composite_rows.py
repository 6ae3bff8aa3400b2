"""Observation's combo- composites are now searched on their members' rows (combo-code-value-quantity as
code-value-quantity or component-code-value-quantity; federation.search.registry, _with_unions): the rows
written for them before are read by nothing, and go."""

from django.db import migrations

from federation.migrations._dropped_rows import rows_dropper

UNIONS = ("combo-code-value-concept", "combo-code-value-quantity")
TABLES = ("federation_tokenindex", "federation_quantityindex")


class Migration(migrations.Migration):
    dependencies = [
        ("federation", "0016_drop_union_parameter_rows"),
    ]

    operations = [
        migrations.RunPython(
            rows_dropper([("Observation", code + part) for code in UNIONS for part in ("$0", "$1")], TABLES),
            migrations.RunPython.noop,
        )
    ]
