"""The golden Patient of a person, and the link each source Patient carries to it.

The golden record takes its demographics from one master record (survivorship by source, not field by
field, so a name and its reading never come from two different desks): the record of an authoritative
source (the resident register, by default) when the person has one, else the most recently updated.
It carries none of the sources' identifiers — a conditional reference `Patient?identifier=<source>|<number>`
must still find exactly the source's Patient — only the platform's person number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings

IDENTITY_CODE_SYSTEM = "https://tsunagi.example.jp/fhir/CodeSystem/identity"
GOLDEN_TAG = {"system": IDENTITY_CODE_SYSTEM, "code": "golden-record", "display": "Golden record"}
PERSON_SYSTEM = "https://tsunagi.example.jp/fhir/IdSystem/person"
MASTER_FIELDS = ("name", "telecom", "gender", "birthDate", "deceasedBoolean", "deceasedDateTime", "address")


@dataclass(frozen=True)
class SourcePatient:
    """A linked source Patient as the golden record is built from it."""

    logical_id: str
    content: dict[str, Any]
    last_updated: datetime


def golden_patient(*, logical_id: str, person_number: int, sources: list[SourcePatient]) -> dict[str, Any]:
    """The golden Patient: the master record's demographics, a `seealso` link to every source Patient."""
    master = master_record(sources)
    golden: dict[str, Any] = {
        "resourceType": "Patient",
        "id": logical_id,
        "meta": {"tag": [GOLDEN_TAG]},
        "identifier": [{"use": "official", "system": PERSON_SYSTEM, "value": str(person_number)}],
        "active": True,
    }
    golden.update({field: master.content[field] for field in MASTER_FIELDS if field in master.content})
    golden["link"] = [
        {"other": {"reference": f"Patient/{source.logical_id}"}, "type": "seealso"}
        for source in sorted(sources, key=lambda source: source.logical_id)
    ]
    return golden


def retired_golden_patient(*, logical_id: str, person_number: int, replaced_by: str | None) -> dict[str, Any]:
    """The golden Patient of a person merged into another (`replaced_by`, its golden id): inactive, pointing on."""
    golden: dict[str, Any] = {
        "resourceType": "Patient",
        "id": logical_id,
        "meta": {"tag": [GOLDEN_TAG]},
        "identifier": [{"use": "old", "system": PERSON_SYSTEM, "value": str(person_number)}],
        "active": False,
    }
    if replaced_by is not None:
        golden["link"] = [{"other": {"reference": f"Patient/{replaced_by}"}, "type": "replaced-by"}]
    return golden


def master_record(sources: list[SourcePatient]) -> SourcePatient:
    prefixes = tuple(settings.IDENTITY_AUTHORITATIVE_SYSTEMS)
    authoritative = [
        source
        for source in sources
        if any(str(identifier.get("system", "")).startswith(prefixes) for identifier in _identifiers(source.content))
    ]
    return max(authoritative or sources, key=lambda source: (source.last_updated, source.logical_id))


def with_golden_link(patient: dict[str, Any], golden_id: str, *, replacing: str | None = None) -> dict[str, Any]:
    """The source Patient with a `refer` link to its golden record (instead of one to `replacing`, the golden
    record of the person it was with before); its source's own links are kept."""
    wanted = {"other": {"reference": f"Patient/{golden_id}"}, "type": "refer"}
    dropped = {f"Patient/{golden_id}", f"Patient/{replacing}"}
    kept = [
        link
        for link in patient.get("link") or []
        if not (link.get("type") == "refer" and (link.get("other") or {}).get("reference") in dropped)
    ]
    return {**patient, "link": [*kept, wanted]}


def with_kept_golden_link(patient: dict[str, Any], golden_id: str | None) -> dict[str, Any]:
    """A source's new version of its Patient keeps the platform's `refer` link to the golden record: the link
    is the platform's, so a source sending its record again (without it) neither drops it nor makes a change."""
    if golden_id is None:
        return patient
    reference = f"Patient/{golden_id}"
    for link in patient.get("link") or []:
        if link.get("type") == "refer" and (link.get("other") or {}).get("reference") == reference:
            return patient
    return with_golden_link(patient, golden_id)


def is_golden(patient: dict[str, Any]) -> bool:
    return any(
        tag.get("system") == IDENTITY_CODE_SYSTEM and tag.get("code") == GOLDEN_TAG["code"]
        for tag in (patient.get("meta") or {}).get("tag") or []
    )


def _identifiers(content: dict[str, Any]) -> list[dict[str, Any]]:
    identifiers = content.get("identifier")
    return [item for item in identifiers if isinstance(item, dict)] if isinstance(identifiers, list) else []
