"""The Patient compartment, from the spec's CompartmentDefinition: which parameters tie a resource
to a patient. Compartment search (`/fhir/Patient/{id}/{type}`), the audit trail and, later, consent use it."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from functools import cache
from typing import Any, cast

from django.db import connection
from django.db.models import Exists, OuterRef, Q

from core.pg_arrays import text_array
from federation.fhir.spec import SPEC_DIR
from federation.identity.persons import person_patient_ids
from federation.models import ReferenceIndex, ResourceVersion
from federation.search.indexing import index_rows
from federation.search.registry import index_keys, narrowed_rows, parameters_for

COMPARTMENT_FILES = {"Patient": "CompartmentDefinition-patient.json"}
DATA_DATE = "date"  # the parameter that dates a row's data (R4's clinical-date where a type has it)


@cache
def compartment_parameters(compartment: str) -> dict[str, tuple[str, ...]]:
    """For each resource type in the compartment, the parameters that link it to its owner."""
    definition = json.loads((SPEC_DIR / COMPARTMENT_FILES[compartment]).read_text(encoding="utf-8"))
    return {entry["code"]: tuple(entry["param"]) for entry in definition["resource"] if entry.get("param")}


def compartment_url(compartment: str) -> str:
    return f"http://hl7.org/fhir/CompartmentDefinition/{compartment.lower()}"


def in_compartment(compartment: str, owner_id: str, resource_type: str) -> Q | None:
    """Resources of `resource_type` in the compartment of `compartment/owner_id`; None if the type is not in it.

    A golden Patient's compartment is its person's: the union of the compartments of every source Patient
    linked to it, looked up on each request, so it follows links as they change."""
    codes = compartment_parameters(compartment).get(resource_type)
    if codes is None:
        return None
    keys = compartment_keys(compartment, resource_type)
    owners = (person_patient_ids(owner_id) if compartment == "Patient" else []) or [owner_id]
    linked = Q(
        Exists(
            ReferenceIndex.objects.filter(
                resource=OuterRef("pk"), param__in=keys, target_type=compartment, target_id__in=owners
            )
        )
    )
    # The owners are in their own compartment.
    return linked | Q(logical_id__in=owners) if resource_type == compartment else linked


def compartment_patients(references: Iterable[str]) -> set[str]:
    """The ids of the Patients in whose compartments the stored resources `references` ("Type/id") are: the
    persons a request's results or changes concern (the audit trail). Read from the rows' placement (a Patient
    is its own); a deleted resource has none left, so its last content is read instead."""
    by_type: dict[str, set[str]] = defaultdict(set)
    for reference in references:
        resource_type, _, logical_id = reference.partition("/")
        by_type[resource_type].add(logical_id)
    owners = set(by_type.get("Patient", ()))
    keys = {resource_type: compartment_keys("Patient", resource_type) for resource_type in by_type}
    names = [
        (name, logical_id) for name, ids in by_type.items() if keys[name] and name != "Patient" for logical_id in ids
    ]
    deleted: dict[str, set[str]] = defaultdict(set)
    for resource_type, logical_id, row_owners, is_deleted in _rows_named(names):
        if is_deleted:
            deleted[resource_type].add(logical_id)
        owners.update(row_owners or ())
    return owners | _deleted_patients(deleted, keys)


ROWS_NAMED = """
SELECT named.resource_type, named.logical_id, found.owners, found.is_deleted
FROM unnest(%s::text[], %s::text[]) AS named(resource_type, logical_id)
CROSS JOIN LATERAL (
    SELECT owners, is_deleted FROM federation_resource
    WHERE resource_type = named.resource_type AND logical_id = named.logical_id OFFSET 0
) AS found"""


def _rows_named(names: list[tuple[str, str]]) -> list[tuple[str, str, list[str] | None, bool]]:
    """The placement of the stored rows of (type, id) names, probed name by name on the unique (type, id) index:
    two arrays of text, not an IN list of each id, which an ingest batch of 200 resources pays for its audit
    entry."""
    if not names:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            ROWS_NAMED, [text_array(name for name, _ in names), text_array(logical_id for _, logical_id in names)]
        )
        return list(cursor.fetchall())


def compartment_keys(compartment: str, resource_type: str) -> list[int]:
    """The index keys of the parameters that put `resource_type` in a `compartment` (none if it is not in it)."""
    codes = compartment_parameters(compartment).get(resource_type, ())
    parameters = parameters_for(resource_type) if codes else {}
    # Every reader keeps the rows naming the compartment's type: a narrowing to it (Condition's patient) reads
    # its wider parameter's (subject's), and a narrowing to another type can hold none of the compartment's.
    return [
        index_keys(parameter)[0]
        for code in codes
        if (parameter := parameters.get(code)) is not None
        and narrowed_rows(parameter).get("target_type", compartment) == compartment
    ]


def _deleted_patients(candidates: dict[str, set[str]], keys: dict[str, list[int]]) -> set[str]:
    """For resources with no Patient reference rows that are deleted: the Patients their last content named."""
    if not candidates:
        return set()
    wanted = Q(pk__in=[])
    for resource_type, logical_ids in candidates.items():
        wanted |= Q(resource_type=resource_type, logical_id__in=logical_ids)
    last_contents = (
        ResourceVersion.objects.filter(wanted, resource__is_deleted=True, content__isnull=False)
        .order_by("resource_id", "-version_id")
        .distinct("resource_id")
        .values_list("resource_type", "content")
    )
    found = set()
    for resource_type, content in last_contents:
        for param, _, target_type, target_id, _ in index_rows(resource_type, cast(dict[str, Any], content))[
            ReferenceIndex
        ]:
            if param in keys[resource_type] and target_type == "Patient" and target_id:
                found.add(target_id)
    return found
