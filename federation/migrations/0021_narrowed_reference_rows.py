"""Reference parameters that keep another's references to one type (Observation's patient: subject's naming a
Patient; federation.search.registry, _with_narrowings) are now searched on the wider parameter's rows: the reference
rows written for them before are read by nothing, and go (their `:identifier` rows stay). An absolute URL's row now
keeps the type its path names (values.named_target), as the narrowings find such references by type."""

from typing import Any

from django.db import migrations

from federation.migrations._dropped_rows import rows_dropper

NARROWED = {
    "location": (
        "Appointment",
        "AppointmentResponse",
    ),
    "patient": (
        "Account",
        "Appointment",
        "AppointmentResponse",
        "Basic",
        "CarePlan",
        "CareTeam",
        "ChargeItem",
        "ClinicalImpression",
        "Communication",
        "CommunicationRequest",
        "Composition",
        "Condition",
        "Contract",
        "DeviceRequest",
        "DiagnosticReport",
        "DocumentManifest",
        "DocumentReference",
        "Encounter",
        "Flag",
        "Goal",
        "GuidanceResponse",
        "ImagingStudy",
        "Invoice",
        "List",
        "MeasureReport",
        "Media",
        "MedicationAdministration",
        "MedicationDispense",
        "MedicationRequest",
        "MedicationStatement",
        "Observation",
        "Person",
        "Procedure",
        "Provenance",
        "QuestionnaireResponse",
        "RequestGroup",
        "RiskAssessment",
        "ServiceRequest",
        "Specimen",
        "Task",
    ),
    "practitioner": (
        "Appointment",
        "AppointmentResponse",
        "Encounter",
        "Person",
    ),
    "relatedperson": ("Person",),
}


def typed_urls(apps: Any, schema_editor: Any) -> None:
    from federation.search.values import named_target

    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT url FROM federation_referenceindex WHERE url IS NOT NULL")
        for (url,) in cursor.fetchall():
            named = named_target(url)
            if named is not None:
                cursor.execute("UPDATE federation_referenceindex SET target_type = %s WHERE url = %s", [named[0], url])


class Migration(migrations.Migration):
    dependencies = [
        ("federation", "0020_drop_shared_part_composite_rows"),
    ]

    operations = [
        migrations.RunPython(
            rows_dropper(
                [(resource_type, code) for code, types in NARROWED.items() for resource_type in types],
                ("federation_referenceindex",),
            ),
            migrations.RunPython.noop,
        ),
        migrations.RunPython(typed_urls, migrations.RunPython.noop),
    ]
