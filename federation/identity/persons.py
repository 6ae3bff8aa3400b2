"""Reading persons: which Patients are one person, and which golden record a source Patient belongs to."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count

from federation.models import Person, PersonRecord


def golden_ids_of(patient_pks: Iterable[int]) -> dict[int, str]:
    """The golden Patient id of each linked source Patient (by resource pk); unlinked ones are absent."""
    pks = list(patient_pks)
    if not pks:
        return {}
    return dict(PersonRecord.objects.filter(patient_id__in=pks).values_list("patient_id", "person__golden"))


def person_patient_ids(golden_id: str) -> list[str]:
    """The Patients that are the person of golden Patient `golden_id`: it and every linked source Patient
    (empty when it is not a golden record). A person's compartment is theirs together."""
    person = Person.objects.filter(golden=golden_id).first()
    if person is None:
        return []
    sources = PersonRecord.objects.filter(person=person).values_list("patient__logical_id", flat=True)
    return [golden_id, *sorted(sources)]


def person_of_patient(patient_id: str) -> list[str]:
    """Every Patient id of the person `patient_id` (a golden or a source Patient) is, golden first; just
    `patient_id` while it is linked to no one."""
    golden = Person.objects.filter(golden=patient_id).values_list("golden", flat=True).first()
    if golden is None:
        golden = (
            PersonRecord.objects.filter(patient__resource_type="Patient", patient__logical_id=patient_id)
            .values_list("person__golden", flat=True)
            .first()
        )
    return (person_patient_ids(golden) if golden else []) or [patient_id]


def best_known_persons(count: int) -> list[str]:
    """`Patient/<golden id>` of the `count` persons with the most linked source records (a demo's resident is
    best shown by someone several sources know)."""
    persons = (
        Person.objects.filter(merged_into__isnull=True)
        .annotate(sources=Count("records"))
        .order_by("-sources", "pk")
        .values_list("golden", flat=True)[:count]
    )
    return [f"Patient/{golden}" for golden in persons]
