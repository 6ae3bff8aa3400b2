"""Observation's combo- parameters are now searched on their members' rows (federation.search.registry,
_with_unions): the rows written for them before are read by nothing, and go."""

from typing import Any

from django.db import migrations

from federation.search.hashing import hash64

UNIONS = ("combo-code", "combo-data-absent-reason", "combo-value-concept", "combo-value-quantity")
TABLES = ("federation_tokenindex", "federation_stringindex", "federation_quantityindex")


def drop_rows(apps: Any, schema_editor: Any) -> None:
    keys = [hash64("Observation", code + suffix) for code in UNIONS for suffix in ("", ":text")]
    with schema_editor.connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"DELETE FROM {table} WHERE param = ANY(%s)", [keys])  # noqa: S608 (fixed names)


class Migration(migrations.Migration):
    dependencies = [
        ("federation", "0015_token_and_string_indexes_lean"),
    ]

    operations = [migrations.RunPython(drop_rows, migrations.RunPython.noop)]
