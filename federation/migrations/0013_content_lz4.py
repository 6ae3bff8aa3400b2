"""Stored resource content is compressed with LZ4 where the server was built with it (PostgreSQL's default,
pglz, took a third of the time of writing a content row); a server without it keeps pglz."""

from django.db import migrations

LZ4_WHERE_AVAILABLE = """
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)) THEN
        ALTER TABLE federation_resource ALTER COLUMN content SET COMPRESSION lz4;
        ALTER TABLE federation_resourceversion ALTER COLUMN content SET COMPRESSION lz4;
    END IF;
END
$$;
"""
DEFAULT_COMPRESSION = """
ALTER TABLE federation_resource ALTER COLUMN content SET COMPRESSION default;
ALTER TABLE federation_resourceversion ALTER COLUMN content SET COMPRESSION default;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("federation", "0012_reference_index_lean"),
    ]

    operations = [migrations.RunSQL(LZ4_WHERE_AVAILABLE, DEFAULT_COMPRESSION)]
