"""Observation's code-value-concept, code-value-date and code-value-quantity are composites of the resource itself,
now searched on the rows of the parameters their parts are (code, value-concept, value-date, value-quantity;
federation.search.registry, _with_shared_parts): the rows written for them before are read by nothing, and go."""

from django.db import migrations

from federation.migrations._dropped_rows import rows_dropper

COMPOSITES = ("code-value-concept", "code-value-date", "code-value-quantity")
TABLES = ("federation_tokenindex", "federation_dateindex", "federation_quantityindex")


class Migration(migrations.Migration):
    dependencies = [
        ("federation", "0019_meta_source_and_profile_from_content"),
    ]

    operations = [
        migrations.RunPython(
            rows_dropper([("Observation", code + part) for code in COMPOSITES for part in ("$0", "$1")], TABLES),
            migrations.RunPython.noop,
        )
    ]
