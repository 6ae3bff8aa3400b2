"""Each current row carries its placement for consent: its owner Patients and its data dates
(federation.search.placement), filled here from the index tables for the rows already stored."""

from __future__ import annotations

from typing import Any

import django.contrib.postgres.fields
from django.db import migrations, models

import federation.models.fields

# For one type: the Patients its compartment parameters reference, and the ranges of its `date` parameter.
BACKFILL = """
UPDATE federation_resource r SET
  owners = CASE
    WHEN r.is_deleted THEN '{}'::text[]
    WHEN r.resource_type = 'Patient' THEN ARRAY[r.logical_id]::text[]
    ELSE ARRAY(SELECT DISTINCT o.target_id FROM federation_referenceindex o WHERE o.resource_id = r.id
               AND o.param = ANY(%(owner_keys)s) AND o.target_type = 'Patient' AND o.target_id <> ''
               ORDER BY 1) END,
  data_period = CASE WHEN r.is_deleted THEN NULL ELSE
    (SELECT range_agg(tstzrange(t.low, t.high, '[]')) FROM federation_dateindex t
     WHERE t.resource_id = r.id AND t.param = %(date_key)s) END
WHERE r.resource_type = %(resource_type)s
"""


def placement_backfill(apps: Any, schema_editor: Any) -> None:
    from federation.search.compartments import compartment_parameters
    from federation.search.placement import date_key_of, owner_keys_of

    with schema_editor.connection.cursor() as cursor:
        for resource_type in sorted(compartment_parameters("Patient")):
            keys = [] if resource_type == "Patient" else sorted(owner_keys_of(resource_type))
            cursor.execute(
                BACKFILL, {"owner_keys": keys, "date_key": date_key_of(resource_type), "resource_type": resource_type}
            )


class Migration(migrations.Migration):
    dependencies = [
        ("federation", "0009_search_index_without_key"),
    ]

    operations = [
        migrations.AddField(
            model_name="resource",
            name="owners",
            field=django.contrib.postgres.fields.ArrayField(base_field=models.TextField(), null=True, size=None),
        ),
        migrations.AddField(
            model_name="resource",
            name="data_period",
            field=federation.models.fields.DateMultirangeField(null=True),
        ),
        migrations.RunPython(placement_backfill, migrations.RunPython.noop, elidable=True),
    ]
