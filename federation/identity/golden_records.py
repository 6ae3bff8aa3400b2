"""Writing golden records: each stale person's golden Patient, rebuilt from its linked source Patients.

Linking marks the persons it touched stale and their golden records are written once, when the queue is empty,
rather than once per batch that touched them: a person seen by three sources gets one new golden version per
linking run, not three. A steward's decision refreshes its persons at once.
"""

from __future__ import annotations

from core import fhir_json
from federation.identity.golden import SourcePatient, golden_patient, retired_golden_patient, with_golden_link
from federation.identity.persons import golden_ids_of
from federation.identity.session import linker_session, patient_put, patients_write, server_bound_cursor
from federation.models import Person, Resource

REFRESH_BATCH = 1000
MEMBERS = (
    "SELECT pr.person_id, r.logical_id, r.content::text, r.last_updated FROM federation_personrecord pr "
    "JOIN federation_resource r ON r.id = pr.patient_id WHERE pr.person_id = ANY(%s::bigint[]) AND NOT r.is_deleted"
)


def goldens_refresh_all() -> int:
    """Write the golden record of every stale person, in batches; how many were written."""
    written = 0
    while True:
        with linker_session():
            persons = list(
                Person.objects.filter(golden_stale=True).order_by("pk").values_list("pk", flat=True)[:REFRESH_BATCH]
            )
            if not persons:
                return written
            goldens_write(persons)
        written += len(persons)


def goldens_write(persons: list[int]) -> None:
    """Inside a linker session: the golden Patient of each person (retired when it was merged away, deleted
    when it has no record left), then the persons are no longer stale."""
    rows = {
        pk: (golden, merged_into)
        for pk, golden, merged_into in Person.objects.filter(pk__in=persons).values_list("pk", "golden", "merged_into")
    }
    sources = _sources(persons)
    successors = dict(
        Person.objects.filter(pk__in={merged for _, merged in rows.values() if merged}).values_list("pk", "golden")
    )
    entries = []
    for person, (golden_id, merged_into) in sorted(rows.items()):
        if sources.get(person):
            content = golden_patient(logical_id=golden_id, person_number=person, sources=sources[person])
            entries.append(patient_put(content))
        elif merged_into is not None:
            retired = retired_golden_patient(
                logical_id=golden_id, person_number=person, replaced_by=successors[merged_into]
            )
            entries.append(patient_put(retired))
        else:
            entries.append({"request": {"method": "DELETE", "url": f"Patient/{golden_id}"}})
    patients_write(entries)
    Person.objects.filter(pk__in=persons).update(golden_stale=False)


def source_links_write(moved: dict[int, str]) -> None:
    """Each moved source Patient (by resource pk) links to its person's golden record instead of `moved[pk]`,
    the one it linked to before."""
    golden = golden_ids_of(moved)
    contents = Resource.objects.filter(pk__in=moved, is_deleted=False).values_list("pk", "content")
    patients_write(
        [patient_put(with_golden_link(content, golden[pk], replacing=moved[pk])) for pk, content in contents if content]
    )


def _sources(persons: list[int]) -> dict[int, list[SourcePatient]]:
    found: dict[int, list[SourcePatient]] = {}
    with server_bound_cursor() as cursor:
        cursor.execute(MEMBERS, [persons])
        for person, logical_id, content, last_updated in cursor.fetchall():
            found.setdefault(person, []).append(SourcePatient(logical_id, fhir_json.loads(content), last_updated))
    return found
