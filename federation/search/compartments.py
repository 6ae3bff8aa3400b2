"""The Patient compartment, from the spec's CompartmentDefinition: which parameters tie a resource
to a patient. Compartment search (`/fhir/Patient/{id}/{type}`) and, later, consent use it."""

from __future__ import annotations

import json
from functools import cache

from django.db.models import Exists, OuterRef, Q

from federation.contracts import OwnershipFacts
from federation.fhir.spec import SPEC_DIR
from federation.identity.persons import person_patient_ids
from federation.models import DateIndex, ReferenceIndex
from federation.search.registry import index_key, parameters_for

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


@cache
def ownership_facts() -> OwnershipFacts:
    """How a row is placed with its person, for consent's filter (see OwnershipFacts). Kept for the process:
    the compartment and the `date` parameters are the spec's, and keys are hashes of their names."""
    personal = compartment_parameters("Patient")
    owner_keys, date_keys = [], []
    for resource_type, codes in personal.items():
        parameters = parameters_for(resource_type)
        if resource_type != "Patient":
            owner_keys += [index_key(parameters[code]) for code in codes if code in parameters]
        dated = parameters.get(DATA_DATE)
        if dated is not None and dated.type == "date":
            date_keys.append(index_key(dated))
    return OwnershipFacts(
        personal_types=tuple(sorted(personal)),
        owner_keys=tuple(sorted(set(owner_keys))),
        date_keys=tuple(sorted(set(date_keys))),
        reference_table=ReferenceIndex._meta.db_table,
        date_table=DateIndex._meta.db_table,
    )
