"""A rule's labels become one-label jsonb arrays, so the access filter tests each with `@>` against the row's
meta.security without a subquery; the rules already compiled are converted in place."""

import django.contrib.postgres.fields
from django.db import migrations, models

FORWARD = """
ALTER TABLE consent_consentrule ADD COLUMN label_sets jsonb[];
UPDATE consent_consentrule SET label_sets = ARRAY(SELECT jsonb_build_array(l) FROM jsonb_array_elements(labels) AS l)
WHERE labels IS NOT NULL;
ALTER TABLE consent_consentrule DROP COLUMN labels;
ALTER TABLE consent_consentrule RENAME COLUMN label_sets TO labels;
"""
BACKWARD = """
ALTER TABLE consent_consentrule ADD COLUMN label_list jsonb;
UPDATE consent_consentrule SET label_list = (SELECT jsonb_agg(l -> 0) FROM unnest(labels) AS l)
WHERE labels IS NOT NULL;
ALTER TABLE consent_consentrule DROP COLUMN labels;
ALTER TABLE consent_consentrule RENAME COLUMN label_list TO labels;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0004_consent_rules_break_glass"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(FORWARD, BACKWARD)],
            state_operations=[
                migrations.AlterField(
                    model_name="consentrule",
                    name="labels",
                    field=django.contrib.postgres.fields.ArrayField(
                        base_field=models.JSONField(), null=True, size=None
                    ),
                ),
            ],
        ),
    ]
