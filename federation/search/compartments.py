"""The Patient compartment, from the spec's CompartmentDefinition: which parameters tie a resource
to a patient. Compartment search (`/fhir/Patient/{id}/{type}`), the audit trail and, later, consent use it."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from functools import cache

from django.db.models import Exists, OuterRef, Q

from federation.fhir.spec import SPEC_DIR
from federation.identity.persons import person_patient_ids
from federation.models import ReferenceIndex
from federation.search.registry import index_key, parameters_for

COMPARTMENT_FILES = {"Patient": "CompartmentDefinition-patient.json"}


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
    keys = [index_key(parameters_for(resource_type)[code]) for code in codes if code in parameters_for(resource_type)]
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
    """The ids of the Patients in whose compartments the stored resources `references` ("Type/id") are, read
    from their reference index rows: the persons a request's results or changes concern (the audit trail)."""
    by_type: dict[str, set[str]] = defaultdict(set)
    for reference in references:
        resource_type, _, logical_id = reference.partition("/")
        by_type[resource_type].add(logical_id)
    owners = set(by_type.get("Patient", ()))  # a Patient is in its own compartment
    linked = Q(pk__in=[])
    for resource_type, logical_ids in by_type.items():
        codes = compartment_parameters("Patient").get(resource_type, ())
        parameters = parameters_for(resource_type) if codes else {}
        keys = [index_key(parameters[code]) for code in codes if code in parameters]
        if keys:
            linked |= Q(resource__resource_type=resource_type, resource__logical_id__in=logical_ids, param__in=keys)
    found = ReferenceIndex.objects.filter(linked, target_type="Patient").values_list("target_id", flat=True)
    return owners | {target for target in found if target}
