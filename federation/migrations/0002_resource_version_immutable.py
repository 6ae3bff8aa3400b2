"""ResourceVersion rows are history: the database itself refuses to change or remove them."""

from django.db import migrations

CREATE = """
CREATE FUNCTION federation_refuse_version_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'federation_resourceversion rows are immutable (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER federation_resourceversion_immutable
    BEFORE UPDATE OR DELETE ON federation_resourceversion
    FOR EACH ROW EXECUTE FUNCTION federation_refuse_version_change();
"""

DROP = """
DROP TRIGGER federation_resourceversion_immutable ON federation_resourceversion;
DROP FUNCTION federation_refuse_version_change();
"""


class Migration(migrations.Migration):
    dependencies = [("federation", "0001_initial")]

    operations = [migrations.RunSQL(CREATE, DROP)]
