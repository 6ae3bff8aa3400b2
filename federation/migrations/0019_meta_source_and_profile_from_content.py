"""_source and _profile are searched on the resource's content (meta.source, meta.profile) through two expression
indexes (federation.search.meta_parameters): the uri rows written for them before are read by nothing, and go."""

import django.contrib.postgres.indexes
from django.db import migrations, models

import federation.models.resource
from federation.migrations._dropped_rows import rows_dropper


class Migration(migrations.Migration):
    dependencies = [
        ("federation", "0018_token_index_by_value"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="resource",
            index=models.Index(
                federation.models.resource.MetaSource(), models.F("resource_type"), name="resource_source"
            ),
        ),
        migrations.AddIndex(
            model_name="resource",
            index=django.contrib.postgres.indexes.GinIndex(
                federation.models.resource.MetaProfiles(), name="resource_profile"
            ),
        ),
        migrations.RunPython(
            rows_dropper([("Resource", "_source"), ("Resource", "_profile")], ("federation_uriindex",)),
            migrations.RunPython.noop,
        ),
    ]
